"""The route engine's pure logic: filters, regimes, throttling, scoring and the strategy scorecard.

The scanner actor (actors/scanner.py) only wires these to messages, storage and metrics.
"""
