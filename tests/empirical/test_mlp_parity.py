"""The vectorized MLP trainers (SGD, Adam + schedule) against the torch.optim reference loops."""

import numpy as np
import pytest
import torch

from empirical import reference, schedule_factors, teacher_mlp_problem, train_mlp_batched

LRS = [1e-3, 0.03, 0.3, 1.0, 20.0]     # SGD at 20 diverges to nan at every batch size below
PROBLEM = teacher_mlp_problem(0, n_train=2000, n_test=300)


ULP_FACTORS = (1 + 2.0**-23, 1 - 2.0**-24, 1 + 2.0**-22)
"""Starts one or two float32 ulps from the reference's own initialization, up and down."""


def perturbed_references(monkeypatch, problem, lr, batch_size, steps, *, run_seed, optimizer):
    """The reference's curves from each start of :data:`ULP_FACTORS`: how far float32 rounding
    alone moves them.

    One start underestimates that spread: on an AMD EPYC the Adam cell (B = 64, lr 1, seed 1)
    moved 1.1e-6 from one start one ulp up and 3.6e-6 from one two ulps up, while the batched
    kernel, a different summation order, differs by 1.5e-5.
    """
    original = reference.init_mlp
    curves = []
    for factor in ULP_FACTORS:
        def init(dim, seed, factor=factor):
            model = original(dim, seed)
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(factor)
            return model
        with monkeypatch.context() as patch:
            patch.setattr(reference, "init_mlp", init)
            curves.append(reference.train_mlp(problem, lr, batch_size, steps, run_seed=run_seed,
                                              optimizer=optimizer))
    return curves


def assert_matches_reference(got, want, jitters):
    """``got`` equals the reference curve ``want`` to float32 rounding.

    1e-5 relative, unless the reference itself moves more than that when started an ulp or two
    away (``jitters``, one curve per start): then float32 rounding is amplified (ReLU patterns
    switch, Adam divides by a small second moment) and no two float32 implementations agree
    better than that sensitivity.
    """
    finite = np.isfinite(want)
    assert (np.isfinite(got) == finite).all()                      # diverges where it does
    sensitivity = 0.0
    for jitter in jitters:
        both = finite & np.isfinite(jitter)
        sensitivity = max(sensitivity, np.max(np.abs(jitter[both] - want[both]) / np.abs(want[both]),
                                              initial=0.0))
    np.testing.assert_allclose(got[finite], want[finite], rtol=max(1e-5, 10 * sensitivity))


@pytest.mark.parametrize("optimizer,steps", [("sgd", 60), ("adam", 40)])
@pytest.mark.parametrize("batch_size", [2, 64])
def test_parity_with_torch_optim(optimizer, steps, batch_size, monkeypatch):
    """Both curves (minibatch loss and test loss after each update) of every run."""
    seeds = (0, 1)
    curves = train_mlp_batched(PROBLEM, LRS, batch_size, steps, run_seeds=seeds,
                               optimizer=optimizer)
    references = {(s, lr): reference.train_mlp(PROBLEM, lr, batch_size, steps, run_seed=s,
                                               optimizer=optimizer)
                  for s in seeds for lr in LRS}
    for i, seed in enumerate(seeds):
        for j, lr in enumerate(LRS):
            jitters = perturbed_references(monkeypatch, PROBLEM, lr, batch_size, steps,
                                           run_seed=seed, optimizer=optimizer)
            for k, (got, want) in enumerate(zip(curves, references[seed, lr], strict=True)):
                assert_matches_reference(got[i, j], want, [jitter[k] for jitter in jitters])
    if optimizer == "sgd":
        test = curves[1]
        assert np.isnan(test[:, -1, -1]).all() and np.isfinite(test[:, :2, -1]).all()


def test_stable_cells_agree_to_1e5():
    """Where the dynamics are not chaotic, the agreement is 1e-5 without any allowance."""
    for optimizer in ("sgd", "adam"):
        curves = train_mlp_batched(PROBLEM, [0.01, 0.1], 16, 50, optimizer=optimizer)
        for j, lr in enumerate([0.01, 0.1]):
            wanted = reference.train_mlp(PROBLEM, lr, 16, 50, optimizer=optimizer)
            for got, want in zip(curves, wanted, strict=True):
                np.testing.assert_allclose(got[0, j], want, rtol=1e-5)


def test_schedule_is_torchs():
    factors = schedule_factors(30)
    assert factors[0] == pytest.approx(0.001) and factors[10] == 1.0
    assert factors[20] == pytest.approx(0.5) and np.all(np.diff(factors[10:]) < 0)
    with pytest.raises(ValueError, match="warmup"):
        schedule_factors(10)
