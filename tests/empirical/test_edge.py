"""The stability edge, measured by bisection, and the minibatch Hessian's top eigenvalue."""

import numpy as np
import pytest
import torch
from torch.func import jacrev

import nqm
from empirical import (
    LRGrid,
    SweepSpec,
    batch_hessian_top_eigenvalues,
    diverged,
    failed,
    hessian_top_eigenvalue,
    least_squares_workload,
    preconditioned_hessian_top_eigenvalues,
    run_sweep,
    stability_edges,
    teacher_mlp_workload,
)
from empirical.probes._edge import _crossings, _transition

DIM = 16


@pytest.mark.parametrize("batch_size", [4, 16, 64])
def test_lanczos_is_exact_on_the_least_squares_batch_hessian(batch_size):
    """The Hessian of the homework loss on a minibatch is 2 X^T X / B per output column: its
    top eigenvalue, from numpy on the same minibatch, to 1e-10 (rank B < D included)."""
    workload = least_squares_workload(n_train=500)
    tops = batch_hessian_top_eigenvalues(workload.loss, workload.parameters(0), workload.train,
                                         batch_size, n_batches=3, seed=7)
    rows = np.random.RandomState(7).randint(0, 500, (3, batch_size))
    x = workload.train[0].numpy()
    exact = [np.linalg.eigvalsh(2 * x[r].T @ x[r] / batch_size)[-1] for r in rows]
    np.testing.assert_allclose(tops, exact, rtol=1e-10)


def test_lanczos_matches_the_dense_mlp_hessian():
    """A non-convex loss: the dense Hessian (torch.func.jacrev twice) of the teacher MLP at its
    initialization, in float64, against the Lanczos estimate with as many steps as parameters."""
    workload = teacher_mlp_workload("sgd", n_train=400, n_test=50)
    params = {k: v.double() for k, v in workload.parameters(3).items()}
    data = tuple(t.double() for t in workload.train)
    tops = batch_hessian_top_eigenvalues(workload.loss, params, data, 32, n_batches=2,
                                         iterations=40, seed=1)
    names = list(params)
    flat = torch.cat([params[k].reshape(-1) for k in names])
    sizes = [params[k].numel() for k in names]
    for rows, top in zip(np.random.RandomState(1).randint(0, 400, (2, 32)), tops, strict=True):
        batch = tuple(t[torch.as_tensor(rows)] for t in data)

        def loss(vector, batch=batch):
            pieces = torch.split(vector, sizes)
            return workload.loss({k: p.view(params[k].shape) for k, p in
                                  zip(names, pieces, strict=True)}, batch)
        dense = torch.linalg.eigvalsh(jacrev(jacrev(loss))(flat))[-1].item()
        assert top == pytest.approx(dense, rel=1e-9)


def test_least_squares_edge_is_the_exact_theory_of_its_criterion():
    """The measured edge (the first rate whose last test loss is no better than its first,
    refined by bisection) against the rate where the exact expected test MSE after the same
    steps reaches the initial loss: inside the 95% interval over 4 seeds. B <= 128 only: the
    theory is online (fresh examples), the sweep draws 100 B examples from 10,000 with
    replacement, which repeats examples at larger B. Both lie below SGD's mean-square bound
    B/(B+D+1): with label noise a run fails before it is unstable."""
    spec = SweepSpec("linear-sgd", [2, 8, 32, 128], LRGrid(base=0.01, ratio=1.25, k_max=24),
                     seeds=(0, 1, 2, 3), extend=False)
    edges = stability_edges(run_sweep(spec, progress=False))
    theory = nqm.LeastSquaresSGD(dim=DIM, noise_std=5.0, init_error=2 * DIM**2)
    initial = 25.0 + 2 * DIM                 # sigma^2 + e_0 / D, the expected initial test MSE
    predicted = theory.failure_lr(spec.batch_sizes, spec.steps, initial)
    for edge, want in zip(edges, predicted, strict=True):
        assert edge.interval[0] <= want <= edge.interval[1], (edge.batch_size, edge, want)
        assert np.all(edge.brackets[:, 1] / edge.brackets[:, 0] < 1.25 ** (1 / 2**6) + 1e-12)
        assert edge.edge < theory.max_stable_lr(edge.batch_size)


def test_an_edge_above_the_grid_is_found_by_doubling():
    """No grid rate fails: doubling from the grid's top brackets the edge, bisection narrows
    the doubled bracket by 2**6 in log space; without doublings the edge stays unknown."""
    spec = SweepSpec("linear-sgd", [4], [1e-3, 2e-3], steps=20, seeds=(0, 1), extend=False)
    result = run_sweep(spec, progress=False)
    [edge] = stability_edges(result)
    assert np.all(edge.brackets[:, 1] / edge.brackets[:, 0] < 2 ** (1 / 2**6) + 1e-12)
    assert np.all(edge.seed_edges > 2e-3)
    [unknown] = stability_edges(result, max_doublings=0)
    assert np.isnan(unknown.seed_edges).all() and np.isnan(unknown.edge)
    assert np.isnan(unknown.failure_step).all()
    # the run at each seed's first failing rate, trained again: where it first fails
    from empirical.probes._edge import _failure_steps
    from empirical.sweep._tasks import _train
    [(_, test, _)] = _train(spec, edge.brackets[:, 1], [4], spec.seeds)
    steps = _failure_steps(test, result.cells[0].initial_loss, None)
    np.testing.assert_array_equal(edge.failure_step, np.diag(steps))
    with pytest.raises(ValueError, match="rounds"):
        stability_edges(result, rounds=-1)


@pytest.mark.parametrize("batch_size", [16, 64, 256])
def test_least_squares_batch_hessian_against_wishart_theory(batch_size):
    """The homework's minibatch Hessian is 2 X^T X / B with X Gaussian, a Wishart matrix: the
    Lanczos estimate of its top eigenvalue, averaged over 40 minibatches, against Johnstone's
    finite-size mean, within 4 standard errors plus a tenth of the Tracy-Widom scale (the
    order his expansion drops), and below the Marchenko-Pastur limit it approaches."""
    workload = least_squares_workload()
    tops = batch_hessian_top_eigenvalues(workload.loss, workload.parameters(0), workload.train,
                                         batch_size, n_batches=40, seed=1) / 2
    se = tops.std(ddof=1) / np.sqrt(tops.size)
    root = np.sqrt(batch_size - 1) + np.sqrt(DIM)
    scale = root * (1 / np.sqrt(batch_size - 1) + 1 / np.sqrt(DIM)) ** (1 / 3) / batch_size
    assert abs(tops.mean() - nqm.marchenko_pastur_edge(batch_size, DIM, finite_size=True)) \
        < 4 * se + 0.1 * scale
    assert tops.mean() < nqm.marchenko_pastur_edge(batch_size, DIM)


def test_diverged_is_a_blow_up_within_the_horizon():
    """Non-finite at any step, or above factor x the start at any step (not only the last);
    a run that ends no better than it started without blowing up has not diverged."""
    curves = np.array([[[5.0, 4.0, 3.0], [5.0, 60.0, 4.0], [5.0, 6.0, 7.0], [5.0, np.nan, 1.0]]])
    np.testing.assert_array_equal(diverged(curves, np.array([5.0]), 10.0),
                                  [[False, True, False, True]])
    np.testing.assert_array_equal(failed(curves, np.array([5.0])), [[False, False, True, True]])


def test_crossings_count_every_switch_from_stable_to_failing():
    tried = [(np.array([1.0, 2.0, 4.0]), np.array([[False, True, True], [False, True, False]])),
             (np.array([8.0, 3.0]), np.array([[True, True], [True, False]]))]
    np.testing.assert_array_equal(_crossings(tried), [1, 2])
    np.testing.assert_array_equal(_transition(tried), [[2.0, 2.0], [2.0, 8.0]])


def test_transition_is_nan_where_no_rate_fails_or_the_largest_passes():
    tried = [(np.array([1.0, 2.0, 3.0]), np.array([[False, False, False], [True, True, True],
                                                    [False, True, False]]))]
    np.testing.assert_array_equal(_transition(tried), [[np.nan, np.nan], [1.0, 1.0],
                                                       [2.0, np.nan]])


def test_constant_rate_changes_nothing_without_a_schedule_and_counts_one_crossing():
    """SGD trains at a constant rate already: the same edges with or without
    ``constant_rate``; least squares under the divergence criterion crosses once per seed."""
    spec = SweepSpec("linear-sgd", (4, 64), LRGrid(k_max=24), steps=50, seeds=(0, 1, 2),
                     n_train=2000, n_test=200)
    result = run_sweep(spec, progress=False)
    plain = stability_edges(result, divergence=10.0)
    constant = stability_edges(result, divergence=10.0, constant_rate=True)
    for a, b in zip(plain, constant, strict=True):
        np.testing.assert_array_equal(a.seed_edges, b.seed_edges)
        np.testing.assert_array_equal(a.crossings, [1, 1, 1])
        np.testing.assert_array_equal(a.transition, a.brackets[:, [1, 1]])  # one crossing: no band
        assert "above 10x its start" in a.criterion and "constant" not in a.criterion


def test_an_edge_that_is_not_one_crossing_is_reported_absent(monkeypatch):
    """A seed whose runs fail from 0.01, pass between 0.015 and 0.03 and fail again above has
    no single edge: the batch size's edge is absent (nan), its band runs from the lowest
    failing rate tried to the first rate tried at 0.03 or above (at most 4x the first failing
    rate, the last multiple tried), the last losses of the runs that pass inside it are kept,
    and the seed that crosses once keeps its bisected edge."""
    import empirical.probes._edge as edge_module

    spec = SweepSpec("mlp-adam", (8,), LRGrid(k_max=12), steps=11, seeds=(0, 1), n_train=200,
                     n_test=50)
    result = run_sweep(spec, progress=False)

    def fails(spec, batch_size, rates, initial, divergence, constant_rate):
        again = (rates >= 0.01) & ~((rates > 0.015) & (rates < 0.03))
        return np.stack([rates >= 0.01, again]).astype(int), np.stack([rates, 100 * rates])

    monkeypatch.setattr(edge_module, "_fails", fails)
    [edge] = stability_edges(result, divergence=10.0, constant_rate=True)
    np.testing.assert_array_equal(edge.crossings, [1, 2])
    assert not edge.single and np.isnan(edge.edge) and np.isnan(edge.interval).all()
    np.testing.assert_allclose(edge.seed_edges, 0.01, rtol=0.02)   # both bisected to 0.01
    low, high = edge.band
    assert low == edge.brackets[:, 1].min()
    assert 0.03 <= high <= 4 * edge.brackets[1, 1] * (1 + 1e-12)
    # the second seed's last loss is 100x its rate: the runs that pass above its first failure
    # lie between 0.015 and 0.03, the first seed's never pass there
    passing = edge.passing_loss
    assert 1.5 < passing[0] <= passing[1] < 3.0
    monkeypatch.setattr(edge_module, "_fails", lambda spec, b, rates, *args: (np.stack(
        [rates >= 0.01, rates >= 0.012]).astype(int), np.stack([rates, rates])))
    [single] = stability_edges(result, divergence=10.0, constant_rate=True)
    assert single.single and single.edge == pytest.approx(np.sqrt(0.01 * 0.012), rel=0.02)
    assert single.band == (single.brackets[0, 1], single.brackets[1, 1])
    assert np.isnan(single.passing_loss).all()


def test_full_hessian_in_chunks_is_the_full_hessian(monkeypatch):
    """Hessian-vector products summed over chunks weighted by their share: the same top
    eigenvalue as one batch of every example, and the exact one of 2 X^T X / n."""
    import empirical.probes._hessian as hessian
    x = torch.randn(1000, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def loss(p, batch):
        return torch.mean((batch[0] @ p["w"]) ** 2)
    w = {"w": torch.zeros(5, dtype=torch.float64)}
    whole = hessian_top_eigenvalue(loss, w, (x,))
    monkeypatch.setattr(hessian, "FULL_BATCH_CHUNK", 300)            # 300, 300, 300, 100
    assert hessian_top_eigenvalue(loss, w, (x,)) == pytest.approx(whole, rel=1e-12)
    assert whole == pytest.approx(torch.linalg.eigvalsh(2 * x.T @ x / 1000)[-1].item(), rel=1e-10)



@pytest.mark.parametrize("chunk", [None, 7])
def test_preconditioned_sharpness_matches_the_dense_computation(monkeypatch, chunk):
    """The teacher MLP in float64 with weight decay: per-example gradients one by one, the
    expected second moment g^2 + s^2 / B, the dense minibatch Hessian (jacrev twice) plus the
    decay, and the top eigenvalue of P^-1/2 H P^-1/2 by numpy, against the Lanczos estimate
    with as many steps as parameters (also with the per-example gradients in chunks of 7)."""
    import empirical.probes._hessian as hessian
    if chunk is not None:
        monkeypatch.setattr(hessian, "PER_EXAMPLE_ENTRIES", 7 * 40)
    workload = teacher_mlp_workload("adam", n_train=60, n_test=20)
    params = {k: v.double() for k, v in workload.parameters(2).items()}
    data = tuple(t.double() for t in workload.train)
    names = list(params)
    flat = torch.cat([params[k].reshape(-1) for k in names])
    assert flat.numel() == 40
    sizes = [params[k].numel() for k in names]

    def loss(vector, batch):
        pieces = torch.split(vector, sizes)
        return workload.loss({k: p.view(params[k].shape) for k, p in
                              zip(names, pieces, strict=True)}, batch)
    decay, eps, batch_size = 0.01, 1e-3, 8
    per_example = torch.stack([jacrev(loss)(flat, tuple(t[i:i + 1] for t in data))
                               for i in range(60)]).numpy()
    mean = per_example.mean(axis=0) + decay * flat.numpy()
    scale = 1 / np.sqrt(np.sqrt(mean**2 + per_example.var(axis=0) / batch_size) + eps)
    tops = preconditioned_hessian_top_eigenvalues(
        workload.loss, params, data, batch_size, eps=eps, weight_decay=decay, n_batches=2,
        iterations=40, seed=4)
    for rows, top in zip(np.random.RandomState(4).randint(0, 60, (2, batch_size)), tops,
                         strict=True):
        batch = tuple(t[torch.as_tensor(rows)] for t in data)
        hess = jacrev(jacrev(lambda v, batch=batch: loss(v, batch)))(flat).numpy()
        dense = np.linalg.eigvalsh(scale[:, None] * (hess + decay * np.eye(40)) * scale)[-1]
        assert top == pytest.approx(dense, rel=1e-9)


SCALE = 1e100
"""Adam's eps and rate both this large: its denominator sqrt(v) + eps is eps to ~1e-100 for the
gradients below, so the preconditioner is frozen at P = eps and the step is lr / eps = 1 times
the bias-corrected first moment, over a dynamic range from 1e-100 to 1e90."""


@pytest.mark.parametrize("beta1", [0.0, 0.5, 0.9])
def test_adam_bound_against_torch_adam(beta1):
    """torch.optim.Adam, with the preconditioner frozen, on 0.5 sum h_i x_i^2 at rate 1 with
    h 2% below and 2% above nqm.adam_max_stable_lr's threshold sharpness: after bias correction
    has settled (10 / (1 - beta1) steps), over the next 200 steps the first coordinate shrinks
    and the second grows more than a thousandfold. (Near beta1 = 1 the first steps' bias
    correction blows up so far that the preconditioner unfreezes before it settles; the
    recurrence itself is checked there in tests/nqm/test_edges.py.)"""
    threshold = float(nqm.adam_max_stable_lr(1.0, beta1=beta1))
    h = torch.tensor([0.98, 1.02], dtype=torch.float64) * threshold
    x = torch.full((2,), 1e-100, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=SCALE, betas=(beta1, 0.999), eps=SCALE)
    settle = int(10 / (1 - beta1)) + 50
    trace = []
    for _ in range(settle + 200):
        optimizer.zero_grad()
        (0.5 * (h * x * x).sum()).backward()
        optimizer.step()
        trace.append(x.detach().abs().clone())
    trace = torch.stack(trace)
    assert trace.max() < 1e-10                              # frozen throughout: g << eps
    growth = trace[-20:].amax(dim=0) / trace[settle - 20:settle].amax(dim=0)
    assert growth[0] < 1 and growth[1] > 1e3


def test_failure_steps_agree_with_the_criteria_and_find_the_first_failing_step():
    """A run fails at some step exactly where failed / diverged say it failed; the step is
    the first non-finite or above-the-multiple one, or for the sweep's criterion the last
    where the run ends no better than it started."""
    from empirical.probes._edge import _failure_steps
    curves = np.array([[[1.0, 0.5, 0.4], [1.0, 30.0, 2.0], [1.0, np.inf, np.nan]]])
    initial = np.array([2.0])
    np.testing.assert_array_equal(_failure_steps(curves, initial, 10.0), [[0, 2, 2]])
    np.testing.assert_array_equal(_failure_steps(curves, initial, None), [[0, 3, 2]])
    rng = np.random.default_rng(0)
    curves = rng.lognormal(0.0, 2.0, (4, 50, 6))
    curves[rng.random(curves.shape) < 0.05] = np.nan
    curves[rng.random(curves.shape) < 0.05] = np.inf
    initial = rng.lognormal(0.0, 1.0, 4)
    for factor in (3.0, 10.0):
        np.testing.assert_array_equal(_failure_steps(curves, initial, factor) > 0,
                                      diverged(curves, initial, factor))
    np.testing.assert_array_equal(_failure_steps(curves, initial, None) > 0,
                                  failed(curves, initial))
