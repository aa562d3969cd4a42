"""Storage errors callers may need to tell apart, without importing the database driver or peewee."""

from __future__ import annotations

import peewee as pw

# A row refused for its content (a constraint, a value too long or out of range; on SQLite an integer
# beyond 64 bits raises OverflowError in the driver; our exact-decimal column refuses floats with
# TypeError): retrying the same row cannot succeed.
ROW_REFUSED: tuple[type[Exception], ...] = (pw.IntegrityError, pw.DataError, OverflowError, TypeError, ValueError)
