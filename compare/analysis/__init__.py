"""Measured against predicted: each sweep's optima under both criteria with the exact theory
through the same estimator, the stability edge, the noise scale, double descent's Monte Carlo
and the diagonal NQM's curves."""
