"""Persistence: peewee models, database setup, migrations and every SQL query."""
