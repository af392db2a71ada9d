"""McCandlish et al.'s rate checked against what it predicts: the rate that most lowers the
training loss in ONE step from a checkpoint of a run, measured over many minibatches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import nqm
from empirical import least_squares_workload, teacher_mlp_workload, train_workload
from empirical._core.arguments import MAX_RESAMPLES, SEED, checked, kind, whole, wholes
from empirical.probes._hessian import _flat
from empirical.probes._sign import per_example_gradients_and_hessian
from empirical.sweep._optimum import subgrid_argmin_rows

RUNS = {"linear-sgd": ("Least squares, SGD", 0.02), "mlp-sgd": ("MLP, SGD", 0.2)}
"""The run each model's checkpoints come from: its label and rate (near the fixed-horizon
optimum of ``lrbs run`` at B = 64)."""
RUN_BATCH = 64
GRID = 2.0 ** (np.arange(-6, 7) / 2)
"""The rates tried at each batch size: McCandlish's rate times these factors (1/8 to 8)."""


@dataclass
class GreedyStudy:
    """The one-step optimum measured from checkpoints of a run, and McCandlish's prediction.

    Attributes
    ----------
    model, label : str
    batch_sizes : ndarray of int, shape (n_b,)
    steps : ndarray of int, shape (n_c,)
        The checkpoints (updates of the run at :data:`RUN_BATCH`).
    draws : int
        Minibatches drawn per batch size and checkpoint.
    lr_max, b_noise, b_simple : ndarray, shape (n_c,)
        :math:`|G|^2 / G^\\top H G`, :math:`\\operatorname{tr}(H\\Sigma) / G^\\top H G` and
        :math:`\\operatorname{tr}\\Sigma / |G|^2` on the training set at each checkpoint.
    measured, measured_interval : ndarray, shapes (n_c, n_b) and (n_c, n_b, 2)
        The sub-grid argmin of the mean training loss after one step (over ``draws``
        minibatches) and its 95% percentile interval over bootstrap resamples of the draws.
    predicted : ndarray, shape (n_c, n_b)
        The quadratic model's expected loss after one step,
        :math:`L - \\eta|G|^2 + \\tfrac{\\eta^2}{2}(G^\\top HG + \\operatorname{tr}(H\\Sigma)/B)`,
        on the same grid through the same sub-grid argmin.
    closed_form, with_b_simple : ndarray, shape (n_c, n_b)
        :func:`nqm.mccandlish_lr` with :math:`B_{\\rm noise}`, and with :math:`B_{\\rm simple}`
        in its place (the practical estimate).
    on_edge : ndarray of bool, shape (n_c, n_b)
        The measured argmin is at an end of the grid.

    See Also
    --------
    greedy_study : Measures it.
    """

    model: str
    label: str
    batch_sizes: np.ndarray
    steps: np.ndarray
    draws: int
    lr_max: np.ndarray
    b_noise: np.ndarray
    b_simple: np.ndarray
    measured: np.ndarray
    measured_interval: np.ndarray
    predicted: np.ndarray
    closed_form: np.ndarray
    with_b_simple: np.ndarray
    on_edge: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        """The prediction through the same estimator lies in the measured interval."""
        iv = self.measured_interval
        return (iv[..., 0] <= self.predicted) & (self.predicted <= iv[..., 1])


def _workload(model: str):
    return least_squares_workload() if model == "linear-sgd" else teacher_mlp_workload("sgd")


@checked(model=kind(str), batch_sizes=wholes(1, 10**6), steps=wholes(0, 10**5),
         draws=whole(2, 10_000), n_boot=whole(1, MAX_RESAMPLES), seed=SEED)
def greedy_study(model: str = "linear-sgd", batch_sizes=(2, 8, 32, 128, 512, 2048),
                 steps=(0, 100), *, draws: int = 48, n_boot: int = 500,
                 seed: int = 0) -> GreedyStudy:
    r"""Measure the rate that most lowers the training loss in one SGD step, and predict it.

    A run of the shipped problem (``"linear-sgd"`` or ``"mlp-sgd"``, the workload form) at
    :data:`RUN_BATCH` and the rate of :data:`RUNS` gives the parameters :math:`\theta` after
    each of ``steps`` updates. There, for each batch size :math:`B`, ``draws`` minibatches
    (with replacement, from ``seed``) give gradients :math:`\tilde g`, and the training loss
    :math:`L(\theta - \eta\tilde g)` on the whole training set is averaged over them at every
    rate of :data:`GRID` (times McCandlish's rate): the sub-grid argmin of that mean is the
    measured one-step optimum, the quantity McCandlish et al.'s
    :math:`\eta_\max / (1 + B_{\rm noise}/B)` predicts (their section 2.2). The prediction
    goes through the same estimator: the quadratic model's expected loss on the same grid. For
    least squares the model is exact (the loss is quadratic), so the two must agree to the
    Monte Carlo error; for the MLP it is a local approximation.

    Parameters
    ----------
    model : {"linear-sgd", "mlp-sgd"}
    batch_sizes : sequence of int
    steps : sequence of int
        Checkpoints of the run.
    draws : int, default 48
    n_boot : int, default 500
        Bootstrap resamples of the draws.
    seed : int, default 0

    Returns
    -------
    GreedyStudy

    References
    ----------
    .. [1] S. McCandlish, J. Kaplan, D. Amodei, "An Empirical Model of Large-Batch Training",
       arXiv:1812.06162 (2018), section 2.2, eqs. 2.6-2.7.

    See Also
    --------
    nqm.mccandlish_lr : The closed form.
    nqm.symbolic.quadratic_greedy_step : Its derivation.
    """
    if model not in RUNS:
        raise ValueError(f"model must be one of {', '.join(RUNS)}, got {model!r}")
    label, rate = RUNS[model]
    workload = _workload(model)
    b = np.asarray(sorted(set(batch_sizes)), dtype=int)
    marks = sorted(set(int(s) for s in steps))
    *_, snapshots = train_workload(workload, [rate], RUN_BATCH, max(max(marks), 1),
                                   run_seeds=(seed,), checkpoints=marks)
    rng = np.random.default_rng(seed)
    shape = (len(marks), b.size)
    measured, predicted = np.empty(shape), np.empty(shape)
    interval, on_edge = np.empty((*shape, 2)), np.empty(shape, dtype=bool)
    lr_max, b_noise, b_simple = (np.empty(len(marks)) for _ in range(3))
    closed, simple = np.empty(shape), np.empty(shape)
    for c, snapshot in enumerate(snapshots):
        params = {k: v[0, 0] for k, v in snapshot.items()}
        quadratic = model == "linear-sgd"
        vector, per_example, h = per_example_gradients_and_hessian(
            workload.loss, params, workload.train, hessian=not quadratic)
        if quadratic:               # the least-squares Hessian, 2 X^T X / N for every output
            x = workload.train[0].double().numpy()
            h = np.kron(2 * x.T @ x / len(x), np.eye(params["W"].shape[1]))
        g = per_example.mean(axis=0)
        centred = per_example - g
        g2, ghg = g @ g, g @ h @ g
        trace_sigma = float(np.sum(centred * centred)) / len(centred)
        trace_h_sigma = float(np.sum((centred @ h) * centred)) / len(centred)
        lr_max[c], b_noise[c], b_simple[c] = g2 / ghg, trace_h_sigma / ghg, trace_sigma / g2
        closed[c] = nqm.mccandlish_lr(b, lr_max=lr_max[c], b_noise=b_noise[c])
        simple[c] = nqm.mccandlish_lr(b, lr_max=lr_max[c], b_noise=b_simple[c])
        start = float(workload.loss(params, workload.train))
        loss_at = (_quadratic_loss_after(g, h, start) if quadratic
                   else _loss_after(workload, params, vector))
        n = len(per_example)
        for i, batch in enumerate(b):
            lrs = closed[c, i] * GRID
            counts = np.stack([np.bincount(rng.integers(0, n, batch), minlength=n)
                               for _ in range(draws)])
            steps_taken = counts @ per_example / batch                       # (draws, d)
            after = loss_at(lrs, steps_taken)                               # (n_lr, draws)
            mean = after.mean(axis=1)
            measured[c, i] = subgrid_argmin_rows(lrs, mean[None])[0]
            on_edge[c, i] = int(np.argmin(mean)) in (0, lrs.size - 1)
            picks = rng.integers(0, draws, (n_boot, draws))
            boot = subgrid_argmin_rows(lrs, after[:, picks].mean(axis=2).T)
            interval[c, i] = np.exp(np.percentile(np.log(boot), [2.5, 97.5]))
            model_loss = start - lrs * g2 + lrs**2 / 2 * (ghg + trace_h_sigma / batch)
            predicted[c, i] = subgrid_argmin_rows(lrs, model_loss[None])[0]
    return GreedyStudy(model, label, b, np.asarray(marks), draws, lr_max, b_noise, b_simple,
                       measured, interval, predicted, closed, simple, on_edge)


def _quadratic_loss_after(g: np.ndarray, h: np.ndarray, start: float):
    """``(lrs, steps) -> (n_lr, n_draw)``: a quadratic loss at ``theta - lr * step``, exactly
    its second-order expansion ``L - lr step.G + lr^2 / 2 step^T H step``."""
    def loss_at(lrs: np.ndarray, steps: np.ndarray) -> np.ndarray:
        linear, curvature = steps @ g, np.sum((steps @ h) * steps, axis=1)
        return start - lrs[:, None] * linear + lrs[:, None] ** 2 / 2 * curvature
    return loss_at


def _loss_after(workload, params: dict, vector: torch.Tensor):
    """``(lrs, steps) -> (n_lr, n_draw)``: the training loss at ``theta - lr * step``."""
    _, unflatten = _flat({k: v.detach() for k, v in params.items()})
    batched = torch.func.vmap(lambda flat: workload.loss(unflatten(flat), workload.train),
                              chunk_size=64)

    def loss_at(lrs: np.ndarray, steps: np.ndarray) -> np.ndarray:
        moves = torch.as_tensor(lrs[:, None, None] * steps[None], dtype=vector.dtype)
        with torch.no_grad():
            values = batched((vector - moves).reshape(-1, vector.numel()))
        return values.double().cpu().numpy().reshape(lrs.size, len(steps))
    return loss_at
