"""The risk envelope, pure: each rule is a function returning approve, resize or reject with a reason
(core/risk/rules.py), run in a fixed, documented order (core/risk/envelope.py), with the kill ladder
(core/risk/ladder.py) deciding when losses, drawdown or error bursts tighten the safety mode."""
