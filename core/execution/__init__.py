"""Execution, pure: the order state machine, positions and PnL from fills, the paper fill model."""
