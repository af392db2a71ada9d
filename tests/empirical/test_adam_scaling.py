"""Adam's square-root scaling rule: its algebra, its plumbing into the trainers and sweeps, and
the SDE's prediction on a noisy quadratic."""

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

from empirical import (
    AdamScaling,
    OptimizerConfig,
    SweepSpec,
    reference,
    run_sweep,
    teacher_mlp_problem,
    teacher_mlp_workload,
    train_mlp_batched,
    train_workload,
)
from empirical.train._adam import adam_update_

PROBLEM = teacher_mlp_problem(0, n_train=2000, n_test=300)


def test_rule_keeps_the_sde_constants():
    """Malladi et al. write Adam's SDE in time t = k eta^2 with c_i = (1 - beta_i) / eta^2;
    the gradient covariance enters as Sigma / B, so its square root (Adam's denominator in the
    noise-dominated regime) goes as 1 / sqrt(B), and eps must follow. The rule keeps all of
    them, and the examples seen at a fixed time, k B."""
    kappa, eta, beta, eps, batch, k = sp.symbols("kappa eta beta epsilon B k", positive=True)
    scaled = dict(eta=sp.sqrt(kappa) * eta, beta=1 - kappa * (1 - beta), eps=eps / sp.sqrt(kappa),
                  batch=kappa * batch, k=k / kappa)           # the same time t = k eta^2
    c_before, c_after = (1 - beta) / eta**2, (1 - scaled["beta"]) / scaled["eta"] ** 2
    assert sp.simplify(c_after - c_before) == 0
    assert sp.simplify(scaled["k"] * scaled["eta"] ** 2 - k * eta**2) == 0
    noise = sp.Symbol("Sigma", positive=True)
    ratio_before = sp.sqrt(noise / batch) / eps
    ratio_after = sp.sqrt(noise / scaled["batch"]) / scaled["eps"]
    assert sp.simplify(ratio_after - ratio_before) == 0
    assert sp.simplify(scaled["k"] * scaled["batch"] - k * batch) == 0


@given(st.integers(1, 512), st.integers(1, 64), st.integers(1, 64),
       st.floats(0.99, 0.99999), st.floats(1e-10, 1e-4))
def test_rule_composes(reference_batch, up, up_again, beta, eps):
    """Scaling by kappa1 then by kappa2 is scaling by kappa1 kappa2."""
    direct = AdamScaling(reference_batch)
    b1, b2 = reference_batch * up, reference_batch * up * up_again
    betas = (beta, beta)
    if not direct.defined_at(betas, b2):
        return
    via = AdamScaling(b1)
    stepped = via.betas_at(direct.betas_at(betas, b1), b2)
    np.testing.assert_allclose(stepped, direct.betas_at(betas, b2), rtol=0, atol=1e-12)
    assert via.eps_at(direct.eps_at(eps, b1), b2) == pytest.approx(direct.eps_at(eps, b2), rel=1e-12)
    assert via.lr_factor(b2) * direct.lr_factor(b1) == pytest.approx(direct.lr_factor(b2), rel=1e-12)


def test_rule_refuses_where_undefined():
    rule = AdamScaling(32)
    assert rule.defined_at((0.9, 0.999), 288) and not rule.defined_at((0.9, 0.999), 320)
    with pytest.raises(ValueError, match="undefined at batch size 320"):
        rule.betas_at((0.9, 0.999), 320)
    assert AdamScaling(32, scale_betas=False).betas_at((0.9, 0.999), 320) == (0.9, 0.999)
    assert AdamScaling(32, scale_eps=False).eps_at(1e-8, 128) == 1e-8
    assert AdamScaling(**rule.to_dict()) == rule
    with pytest.raises(ValueError, match="reference_batch"):
        AdamScaling(0)
    with pytest.raises(TypeError, match="scale_eps"):
        AdamScaling(4, scale_eps=1)


def test_batched_adam_with_other_betas_eps_and_schedule_matches_torch():
    """The hand-batched Adam with the standard betas, a larger eps and a step schedule against
    torch.optim.Adam under LambdaLR."""
    schedule = np.r_[np.ones(25), np.full(15, 0.1)]
    kwargs = dict(optimizer="adam", betas=(0.9, 0.999), eps=1e-6, schedule=schedule)
    lrs = [0.003, 0.03]
    train, test = train_mlp_batched(PROBLEM, lrs, 16, 40, run_seeds=(0, 1), **kwargs)
    for i, seed in enumerate((0, 1)):
        for j, lr in enumerate(lrs):
            want_train, want_test = reference.train_mlp(PROBLEM, lr, 16, 40, run_seed=seed, **kwargs)
            np.testing.assert_allclose(test[i, j], want_test, rtol=1e-5)
            np.testing.assert_allclose(train[i, j], want_train, rtol=1e-5)


def test_trainer_refuses_bad_adam_settings():
    with pytest.raises(ValueError, match="one factor per step"):
        train_mlp_batched(PROBLEM, [0.01], 4, 20, optimizer="adam", schedule=np.ones(19))
    with pytest.raises(ValueError, match="optimizer='adam' only"):
        train_mlp_batched(PROBLEM, [0.01], 4, 20, schedule=np.ones(20))
    with pytest.raises(ValueError, match="betas must be two"):
        train_mlp_batched(PROBLEM, [0.01], 4, 20, optimizer="adam", betas=(0.9, 1.0))


def test_sweep_under_the_rule_equals_the_workload_path():
    """``SweepSpec.adam_scaling`` (hand-batched kernel) and ``OptimizerConfig.scaling`` (generic
    path) train the same runs: the betas and eps of each batch size reach both."""
    rule = AdamScaling(8)
    spec = SweepSpec("mlp-adam", (4, 32), [0.01, 0.05], steps=20, adam_betas=(0.9, 0.999),
                     adam_scaling=rule, n_train=2000, n_test=300)
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert spec.adam_settings(32) == dict(betas=(0.6, 0.996), eps=5e-9)
    sweep = run_sweep(spec, progress=False)
    workload = teacher_mlp_workload("adam", adam_betas=(0.9, 0.999), adam_scaling=rule,
                                    n_train=2000, n_test=300)
    for cell in sweep.cells:
        _, test = train_workload(workload, [0.01, 0.05], cell.batch_size, 20, run_seeds=(0,))
        np.testing.assert_allclose(test, cell.test_loss, rtol=2e-5)
    plain = run_sweep(SweepSpec("mlp-adam", (32,), [0.05], steps=20, adam_betas=(0.9, 0.999),
                                n_train=2000, n_test=300), progress=False)
    assert not np.allclose(plain.cells[0].test_loss[0, 0], sweep.cells[1].test_loss[0, 1])


def test_specs_refuse_the_rule_where_it_does_not_apply():
    with pytest.raises(ValueError, match="undefined at batch size 16"):
        SweepSpec("mlp-adam", (4, 16), [0.01], steps=20, adam_scaling=AdamScaling(8))
    with pytest.raises(ValueError, match="mlp-adam only"):
        SweepSpec("mlp-sgd", (4,), [0.01], adam_scaling=AdamScaling(4))
    with pytest.raises(ValueError, match="mlp-adam only"):
        SweepSpec("mlp-sgd", (4,), [0.01], adam_betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="adam_betas"):
        SweepSpec("mlp-adam", (4,), [0.01], steps=20, adam_betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="'adam' and 'adamw' only"):
        OptimizerConfig(scaling=AdamScaling(4))
    assert "adam_scaling" not in SweepSpec("mlp-adam", (4,), [0.01], steps=20).to_dict()


def _adam_on_noisy_quadratic(lr, betas, eps, batch_size, steps, chains, seed):
    """Adam on L(theta) = theta^2 / 2 from its minimum, with per-example gradient noise of
    variance 1 that a batch of ``batch_size`` examples averages: the mean loss over
    independent chains after each step. From the minimum the noise dominates the gradient
    throughout, the regime of Malladi et al.'s SDE."""
    gen = torch.Generator().manual_seed(seed)
    theta = torch.zeros(chains, dtype=torch.float64)
    first, second = torch.zeros_like(theta), torch.zeros_like(theta)
    rate = torch.tensor(lr, dtype=torch.float64)
    losses = np.empty(steps)
    for t in range(steps):
        grad = theta + torch.randn(chains, generator=gen, dtype=torch.float64) / math.sqrt(batch_size)
        adam_update_(theta, grad, first, second, rate, t + 1, betas, eps)
        losses[t] = float((theta**2).mean()) / 2
    return losses


def test_sde_rule_keeps_the_loss_curve_on_a_noisy_quadratic():
    """The rule's runs at kappa = 4 and 16 follow the reference curve (B = 1) against the
    examples seen; scaling the rate alone by sqrt(kappa), betas fixed, does not at kappa = 16
    (its momentum then averages over 16 times as many examples, comparable to the relaxation
    time). On the second half of the curve the gap of the chains' mean has a relative standard
    error of about sqrt(2 / chains) = 0.022 per step (chi^2-like per-chain losses); measured
    gaps 0.020 and 0.014 (rule), 0.11 (rate alone, kappa 16)."""
    rule, base_betas, base_eps, base_lr = AdamScaling(1), (0.99, 0.999), 1e-8, 0.001
    chains, examples = 4000, 8000
    ref = _adam_on_noisy_quadratic(base_lr, base_betas, base_eps, 1, examples, chains, seed=0)
    for kappa in (4, 16):
        steps = examples // kappa
        lr = base_lr * rule.lr_factor(kappa)
        sde = _adam_on_noisy_quadratic(lr, rule.betas_at(base_betas, kappa),
                                       rule.eps_at(base_eps, kappa), kappa, steps, chains, kappa)
        at = np.arange(1, steps + 1) * kappa - 1      # the reference step with the same examples
        late = slice(steps // 2, None)
        reference_late = ref[at][late]

        def gap(curve, late=late, reference_late=reference_late):
            return np.abs(curve[late] - reference_late).mean() / reference_late.mean()
        assert gap(sde) < 4 * math.sqrt(2 / chains), (kappa, gap(sde))
        if kappa == 16:
            lr_only = _adam_on_noisy_quadratic(lr, base_betas, base_eps, kappa, steps, chains, kappa)
            assert gap(lr_only) > 3 * gap(sde), (gap(sde), gap(lr_only))
