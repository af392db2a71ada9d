"""Vectorized learning-rate x batch-size sweeps in torch."""
