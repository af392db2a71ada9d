"""McCandlish et al.'s model: its derivation, the exact NQM noise scale against simulation, the
greedy step's improvement measured, the trade-off between steps and examples."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import nqm
from nqm import symbolic as sym

positive = st.floats(1e-3, 1e3)


@given(positive, positive, positive, st.floats(1.0, 1e4))
def test_greedy_step_and_improvement_are_the_derivation(gg, ghg, ths, batch):
    best, gain = sym.quadratic_greedy_step()
    at = dict(zip(sym._QUADRATIC, (gg, ghg, ths), strict=True)) | {sym.B: batch}
    lr = nqm.mccandlish_lr(batch, lr_max=gg / ghg, b_noise=ths / ghg)
    improvement = nqm.mccandlish_improvement(batch, gradient_sq=gg, lr_max=gg / ghg,
                                             b_noise=ths / ghg)
    assert lr == pytest.approx(float(best.subs(at).evalf(50)), rel=1e-12)
    assert improvement == pytest.approx(float(gain.subs(at).evalf(50)), rel=1e-12)


def test_the_derivation_of_the_tradeoff_gives_one_and_b_noise():
    steps, examples, product = sym.steps_examples_tradeoff()
    assert product == 1
    gg, ghg, ths = sym._QUADRATIC
    assert sp.simplify(sp.limit(examples, sym.B, 0) / sp.limit(steps, sym.B, sp.oo)
                       - ths / ghg) == 0


@given(st.floats(1e-2, 1e5), st.floats(1.0, 1e4), st.floats(1e-1, 1e4))
def test_tradeoff_is_the_hyperbola(batch, s_min, b_crit):
    steps, examples = nqm.steps_examples_tradeoff(batch, s_min=s_min, b_crit=b_crit)
    e_min = s_min * b_crit
    assert (steps / s_min - 1) * (examples / e_min - 1) == pytest.approx(1, rel=1e-9)
    assert examples == pytest.approx(batch * steps, rel=1e-12)


def _simulate(model, lr, batch, steps, beta, chains, seed):
    """Iterates w_t of heavy-ball SGD on the NQM (Gaussian gradient noise c/B), and w_{t-1}."""
    rng = np.random.default_rng(seed)
    h = model.curvatures
    w = rng.standard_normal((chains, h.size)) * np.sqrt(model.w0_sq)
    w_prev = w.copy()
    for _ in range(steps):
        grad = h * w + rng.standard_normal(w.shape) * np.sqrt(model.noise_var / batch)
        w, w_prev = w - lr * grad + beta * (w - w_prev), w
    return w, rng


@pytest.mark.parametrize("beta", [0.0, 0.8])
def test_exact_noise_scale_matches_simulation(beta):
    """E|G|^2 and E G^T H G over 40,000 chains within 4 standard errors; the noise scales and
    lr_max, ratios of these expectations, follow."""
    model = nqm.DiagonalNQM(curvatures=np.geomspace(2.0, 0.01, 12),
                            noise_var=np.linspace(0.5, 3.0, 12), w0_sq=np.linspace(2.0, 0.5, 12))
    lr, batch, steps, chains = 0.3, 8, 40, 40_000
    w, _ = _simulate(model, lr, batch, steps, beta, chains, seed=11)
    h, c = model.curvatures, model.noise_var
    exact = model.noise_scale(lr, batch, steps, momentum=beta)
    for sample, want in (((w * h) ** 2 @ np.ones_like(h), exact.gradient_sq),
                         (w**2 @ h**3, exact.gradient_sq / exact.lr_max)):
        assert abs(sample.mean() - want) < 4 * sample.std(ddof=1) / np.sqrt(chains)
    assert exact.b_noise == pytest.approx(np.dot(h, c) * exact.lr_max / exact.gradient_sq)
    assert exact.b_simple == pytest.approx(c.sum() / exact.gradient_sq)


def test_noise_scale_at_step_zero_and_through_the_loss():
    model = nqm.DiagonalNQM.zhang2019(dim=300)
    h = model.curvatures
    first = model.noise_scale(0.5, 16, 0)
    assert first.gradient_sq == pytest.approx(np.sum(h**2))
    assert first.lr_max == pytest.approx(np.sum(h**2) / np.sum(h**3))
    # |G|^2 = sum h^2 m <= max(h) sum h m = 2 max(h) E L_t, with the loss of expected_loss
    t = np.array([1, 10, 1000])
    loss = model.expected_loss(0.5, 16, t)
    scale = model.noise_scale(0.5, 16, t)
    assert np.all(np.diff(scale.b_simple) > 0)          # the gradient shrinks, the noise stays
    assert np.all(scale.gradient_sq < 2 * loss * h.max())


def test_greedy_step_improvement_measured():
    """From the iterate distribution after 30 steps, one more step at mccandlish_lr improves the
    loss by mccandlish_improvement (4 standard errors), and steps 30% shorter or longer less."""
    model = nqm.DiagonalNQM(curvatures=np.geomspace(1.0, 0.02, 10), noise_var=np.full(10, 2.0),
                            w0_sq=np.full(10, 4.0))
    lr, batch, chains = 0.5, 4, 200_000
    w, rng = _simulate(model, lr, batch, 30, 0.0, chains, seed=3)
    h, c = model.curvatures, model.noise_var
    scale = model.noise_scale(lr, batch, 30)
    best = nqm.mccandlish_lr(batch, lr_max=scale.lr_max, b_noise=scale.b_noise)
    noise = rng.standard_normal(w.shape) * np.sqrt(c / batch)     # common to the three rates

    def improvement(rate):
        after = w - rate * (h * w + noise)
        return 0.5 * (w**2 - after**2) @ h

    gain = improvement(best)
    want = nqm.mccandlish_improvement(batch, gradient_sq=scale.gradient_sq,
                                      lr_max=scale.lr_max, b_noise=scale.b_noise)
    assert abs(gain.mean() - want) < 4 * gain.std(ddof=1) / np.sqrt(chains)
    for factor in (0.7, 1.3):
        assert (gain - improvement(factor * best)).mean() > 0
