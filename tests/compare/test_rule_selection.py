"""Rule selection that cannot contradict itself, and how often it recovers the generating rule.

``python tests/compare/test_rule_selection.py`` prints the recovery table: synthetic optima
drawn from each rule (5 seeds, log-normal scatter 0.05 or 0.2 per seed, the seeds'
bootstrap) at 3, 4, 5 and 7 batch sizes from 2 to 2048, 40 studies each, and how often the
generating rule is the chosen one, among the tied ones, or no rule is chosen.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from compare import RULES, fit_scaling
from compare.fit._fits import FIXED_SLOPES, LACK_OF_FIT

GENERATORS = {"constant": (0.01,), "linear": (1e-4,), "sqrt": (1e-3,), "power": (0.01, 0.25),
              "logarithmic": (0.003, 4.0), "saturating": (0.5, 60.0), "surge": (0.1, 60.0)}
"""Each rule with parameters whose shape shows between B = 2 and 2048 (turns at 4-60)."""
COUNTS = (3, 4, 5, 7)


def synthetic_study(name: str, n_b: int, seed: int, *, n_seed: int = 5, noise: float = 0.05,
                    n_boot: int = 200):
    """Optima per seed scattered around rule ``name`` in log space, fitted with its bootstrap."""
    rng = np.random.default_rng(seed)
    b = np.unique(np.round(np.geomspace(2, 2048, n_b)))
    truth = RULES[name](b, *GENERATORS[name])
    log_seeds = np.log(truth)[None] + noise * rng.standard_normal((n_seed, b.size))
    picks = rng.integers(0, n_seed, (n_boot, n_seed))
    return fit_scaling(b, np.exp(log_seeds.mean(axis=0)), np.exp(log_seeds[picks].mean(axis=1)),
                       n_seeds=n_seed)


def recovery(name: str, n_b: int, studies: int = 40, noise: float = 0.05) -> dict:
    """Fractions of ``studies`` where the generating rule is chosen, tied, or nothing is."""
    fits = [synthetic_study(name, n_b, seed, noise=noise) for seed in range(studies)]
    return dict(chosen=np.mean([f.preferred == name for f in fits]),
                tied=np.mean([name in f.tied for f in fits]),
                none=np.mean([f.preferred is None for f in fits]))


def test_three_batch_sizes_are_too_few_to_choose():
    for name in GENERATORS:
        fit = synthetic_study(name, 3, 0)
        assert fit.preferred is None and fit.tied == ()
        assert "too few batch sizes (3) to choose among the rules" in fit.verdict("x")


def test_seven_batch_sizes_recover_the_generating_rule():
    """At 7 batch sizes the generating rule is among the tied ones in at least 80% of 40
    studies for every rule, and the chosen one for the rules no other rule nests."""
    for name in GENERATORS:
        got = recovery(name, 7)
        assert got["tied"] >= 0.8, (name, got)
        if name in ("constant", "linear", "logarithmic", "saturating", "surge"):
            assert got["chosen"] >= 0.5, (name, got)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n_b=st.integers(3, 9), seed=st.integers(0, 10**6), noise=st.sampled_from([0.02, 0.1, 0.4]),
       curve=st.sampled_from(sorted(GENERATORS)))
def test_no_verdict_names_a_rule_its_own_interval_excludes(n_b, seed, noise, curve):
    """Whatever the optima: the chosen and tied rules are never ones the exponent's interval
    excludes, nothing is chosen where a rule cannot be scored, a chosen rule that fits worse
    than the noise allows is said to, and the verdict's sentence agrees with the fields."""
    fit = synthetic_study(curve, n_b, seed, noise=noise)
    lo, hi = fit.exponent_interval
    allowed = {k for k, slope in FIXED_SLOPES.items() if lo <= slope <= hi}
    assert set(fit.excluded) == set(FIXED_SLOPES) - allowed
    assert not set(fit.tied) & set(fit.excluded)
    text = fit.verdict("x")
    if not all(np.isfinite(r.aicc) for r in fit.rules.values()):
        assert fit.preferred is None and "too few batch sizes" in text
        return
    assert fit.preferred == fit.tied[0]
    if fit.lack_of_fit < LACK_OF_FIT:
        assert "no rule fits within the seeds' noise" in text and "fits best" not in text
    elif len(fit.tied) == 1:
        assert f"{fit.preferred} fits best" in text
    for name in fit.excluded:
        assert f"{name} fits best" not in text and f"{name} preferred" not in text


if __name__ == "__main__":
    for scatter in (0.05, 0.2):
        print(f"\nper-seed scatter {scatter} in log lr: chosen / tied / none")
        print("| generating rule | " + " | ".join(f"n = {n}" for n in COUNTS) + " |")
        print("|---|" + "---|" * len(COUNTS))
        for rule in GENERATORS:
            cells = [recovery(rule, n, noise=scatter) for n in COUNTS]
            print(f"| {rule} | " + " | ".join(
                f"{c['chosen']:.0%} / {c['tied']:.0%} / {c['none']:.0%}" for c in cells) + " |")
