"""
Double descent and optimal ridge
================================

Min-norm least squares with ``d = 500`` Gaussian features: the exact risk formula
(:func:`nqm.ridgeless_risk`) peaks where the sample count crosses the feature count, and ridge
at ``lambda = sigma^2 d / n`` (:func:`nqm.ridge_risk`) removes the peak. Monte Carlo points
check both.
"""

# %%
from compare import plot_double_descent, simulate_risk

sim = simulate_risk(500, [100, 250, 400, 475, 525, 600, 800, 1000], (0.0, 0.04), trials=2)
fig = plot_double_descent(sim)

# %%
# Conclusion
# ----------
# Without noise the interpolating solution's risk is pure bias and vanishes once ``n > d``;
# with noise the variance diverges at ``n = d``, and tuning the ridge penalty removes the
# divergence entirely.
