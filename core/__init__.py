"""The domain: pure code with no threads, sockets or clock reads (I/O adapters aside, see core/kraken/rest.py)."""
