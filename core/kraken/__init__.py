"""Kraken protocol: codecs, books, checksums, signing, rate-limit models, thin I/O adapters."""
