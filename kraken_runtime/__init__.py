"""kraken-runtime: the entry point package (command line). The system lives in core/, storage/, actors/."""

__version__ = "0.1.0"
