"""The minibatch Hessian's largest eigenvalue and the largest stable learning rate it implies:
the Marchenko-Pastur edge, Granziol et al.'s noise-plus-Hessian form, their claimed scaling,
and Adam's edge from its preconditioned sharpness."""

from __future__ import annotations

import numpy as np

from nqm._validation import nonnegative, positive, scalar_or_array

TRACY_WIDOM_1_MEAN = -1.2065335745820
"""Mean of the real (beta = 1) Tracy-Widom law (Tracy & Widom 1996; Bornemann 2010, Table 4)."""


def marchenko_pastur_edge(batch_size, dim, *, finite_size: bool = False):
    r"""The largest eigenvalue of a minibatch's second-moment matrix :math:`X^\top X / B`.

    .. math::

        \lambda_+ = \Big(1 + \sqrt{D / B}\Big)^2,

    the top of the Marchenko–Pastur support for :math:`X \in \mathbb{R}^{B\times D}` with
    i.i.d. :math:`N(0, 1)` entries, ``batch_size`` :math:`= B` and ``dim`` :math:`= D`: the
    largest eigenvalue converges to it almost surely as :math:`B, D \to \infty` with
    :math:`D/B` fixed (derived from the Stieltjes transform in
    :func:`nqm.symbolic.marchenko_pastur_edge`). With ``finite_size`` it returns instead the
    expected largest eigenvalue to the next order, Johnstone's centering and scaling of the
    Tracy–Widom law,

    .. math::

        \mathbb{E}\lambda_{\max} \approx \frac{\mu + \sigma\,\mathbb{E}[TW_1]}{B},\quad
        \mu = (\sqrt{B - 1} + \sqrt{D})^2,\quad
        \sigma = (\sqrt{B - 1} + \sqrt{D})\Big(\tfrac{1}{\sqrt{B-1}} + \tfrac{1}{\sqrt D}\Big)^{1/3},

    with :math:`\mathbb{E}[TW_1] \approx -1.2065` (:data:`TRACY_WIDOM_1_MEAN`).

    For least squares with the homework's gradient :math:`\tfrac{2}{B}(X^\top X W - X^\top
    Y)` the minibatch Hessian is :math:`2X^\top X / B`, so gradient descent on one minibatch
    is stable below :math:`2 / (2\lambda_{\max}) \approx (1 + \sqrt{D/B})^{-2}`; SGD's
    mean-square bound over fresh minibatches is :math:`B / (B + D + 1)`
    (:meth:`LeastSquaresSGD.max_stable_lr`). Both grow linearly in :math:`B` while
    :math:`B \ll D` and saturate at 1 for :math:`B \gg D`.

    Parameters
    ----------
    batch_size, dim : array_like of float
        ``> 0`` (``batch_size > 1`` with ``finite_size``).
    finite_size : bool, default False

    Returns
    -------
    float or ndarray

    References
    ----------
    .. [1] V. A. Marchenko, L. A. Pastur, "Distribution of eigenvalues for some sets of random
       matrices", Math. USSR-Sbornik 1 (1967).
    .. [2] S. Geman, "A limit theorem for the norm of random matrices", Ann. Probab. 8 (1980).
    .. [3] I. M. Johnstone, "On the distribution of the largest eigenvalue in principal
       components analysis", Ann. Statist. 29 (2001), Theorem 1.
    .. [4] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size",
       JMLR 23 (2022), arXiv:2006.09092 (the batch Hessian's edge and the largest stable rate).

    See Also
    --------
    mp_stieltjes : The Marchenko–Pastur law's Stieltjes transform.
    LeastSquaresSGD.max_stable_lr : The mean-square stability bound.

    Examples
    --------
    >>> from nqm import marchenko_pastur_edge
    >>> print(marchenko_pastur_edge([16, 64, 1024], 16))
    [4.     2.25   1.2656]
    >>> print(round(marchenko_pastur_edge(400, 400, finite_size=True), 4))
    3.939
    """
    b = positive("batch_size", batch_size)
    d = positive("dim", dim)
    if not finite_size:
        return scalar_or_array((1 + np.sqrt(d / b)) ** 2)
    if np.any(b <= 1):
        raise ValueError(f"batch_size must be > 1 with finite_size, got {batch_size!r}")
    root = np.sqrt(b - 1) + np.sqrt(d)
    sigma = root * (1 / np.sqrt(b - 1) + 1 / np.sqrt(d)) ** (1 / 3)
    return scalar_or_array((root**2 + TRACY_WIDOM_1_MEAN * sigma) / b)


def claimed_max_lr(batch_size, *, optimizer: str, reference_batch_size, reference_lr):
    r"""The largest stable learning rate as Granziol et al. (2022) scale it with the batch size.

    .. math::

        \eta_{\max}(B) = \eta_{\max}(B_0)\,\Big(\frac{B}{B_0}\Big)^{p},\qquad
        p = 1 \text{ for SGD},\quad p = \tfrac12 \text{ for Adam},

    where ``batch_size`` is :math:`B` and :math:`\eta_{\max}(B_0)` is ``reference_lr``, the
    edge measured (or known) at ``reference_batch_size`` :math:`B_0`. The paper derives it
    from the extremal eigenvalues of the minibatch Hessian under these assumptions: a smooth
    loss; the minibatch Hessian equal to the full-data Hessian plus a random,
    parameter-dependent perturbation whose extremal eigenvalue grows as the batch shrinks
    (spiked random-matrix model, the perturbation's variance scaling as :math:`1/B`); the
    regime where that perturbation dominates the edge (small :math:`B`: the SGD edge
    :math:`2/\lambda_{\max}(H_B)` then grows linearly, and saturates at
    :math:`2/\lambda_{\max}(H)` once the full Hessian dominates); and for Adam, a
    preconditioner built from the square root of the minibatch gradient's second moment,
    whose noise scales as :math:`1/\sqrt B`. It is a scaling law, not an absolute value: the
    constant comes from the reference point.

    Parameters
    ----------
    batch_size : array_like of float
        ``> 0``.
    optimizer : {"sgd", "adam"}
    reference_batch_size, reference_lr : array_like of float
        ``> 0``.

    Returns
    -------
    float or ndarray

    References
    ----------
    .. [1] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size: A
       Random Matrix Theory Approach to Neural Network Training", JMLR 23 (2022),
       arXiv:2006.09092.

    See Also
    --------
    marchenko_pastur_edge : The least-squares batch Hessian's edge, where the linear regime
        and its saturation are exact.
    LeastSquaresSGD.max_stable_lr : SGD's mean-square bound on least squares.

    Examples
    --------
    >>> from nqm import claimed_max_lr
    >>> print(claimed_max_lr([4, 16], optimizer="adam", reference_batch_size=4,
    ...                      reference_lr=0.01))
    [0.01 0.02]
    """
    exponents = {"sgd": 1.0, "adam": 0.5}
    if optimizer not in exponents:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    b = positive("batch_size", batch_size)
    b0 = positive("reference_batch_size", reference_batch_size)
    lr0 = positive("reference_lr", reference_lr)
    return scalar_or_array(lr0 * (b / b0) ** exponents[optimizer])



def noise_plus_hessian_lr(batch_size, *, top_eigenvalue, noise):
    r"""SGD's largest stable learning rate in Granziol et al.'s form: the minibatch Hessian's
    top eigenvalue is the full Hessian's plus a minibatch-noise term falling as :math:`1/B`.

    .. math::

        \lambda_{\max}(H_B) = \lambda_1 + \frac{\kappa}{B},\qquad
        \eta_{\max}(B) = \frac{2}{\lambda_1 + \kappa / B},

    where ``top_eigenvalue`` is :math:`\lambda_1`, the full Hessian's largest eigenvalue, and
    ``noise`` is :math:`\kappa`, the noise term at :math:`B = 1`. Below the crossover
    :math:`B_\times = \kappa/\lambda_1` the noise dominates and :math:`\eta_{\max} \approx
    2B/\kappa` grows linearly (the paper's linear scaling rule for SGD); above it the full
    Hessian dominates and :math:`\eta_{\max}` saturates at :math:`2/\lambda_1`. Assumptions:
    gradient descent on one minibatch (stable below :math:`2/\lambda_{\max}(H_B)`), batches
    drawn with replacement (the paper's :math:`1/B - 1/N` is :math:`1/B` here), and the noise
    term's :math:`1/B` law.

    Parameters
    ----------
    batch_size : array_like of float
        ``> 0``.
    top_eigenvalue : float
        :math:`\lambda_1 > 0`.
    noise : float
        :math:`\kappa \ge 0`.

    Returns
    -------
    float or ndarray

    Notes
    -----
    On Gaussian least squares with identity covariance and the Hessian :math:`c X^\top X / B`
    the top eigenvalue is exactly (for large :math:`B, D`) :math:`c(1 + \sqrt{D/B})^2 = c +
    c\,(D/B + 2\sqrt{D/B})` (:func:`marchenko_pastur_edge`): the full Hessian :math:`c` plus a
    noise term whose :math:`1/B` part is :math:`\kappa = cD`. The form is that limit's leading
    term where :math:`D/B > 2\sqrt{D/B}`, i.e. :math:`B < D/4`; it leaves out the cross term
    :math:`2c\sqrt{D/B}`, and its top eigenvalue is low by the factor
    :math:`1 + 2\sqrt{\gamma}/(1 + \gamma)`, :math:`\gamma = D/B` (at most 2, at
    :math:`B = D`).

    References
    ----------
    .. [1] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size: A
       Random Matrix Theory Approach to Neural Network Training", JMLR 23 (2022),
       arXiv:2006.09092 (the batch Hessian's extremal eigenvalue as the full Hessian's plus a
       noise term, and the linear scaling rule it gives while the noise dominates).

    See Also
    --------
    claimed_max_lr : The linear rule alone, anchored at one measured point.
    marchenko_pastur_edge : The least-squares minibatch Hessian's exact edge.

    Examples
    --------
    The crossover of ``kappa = 32`` and ``lambda_1 = 2`` is at ``B = 16``:

    >>> from nqm import noise_plus_hessian_lr
    >>> print(noise_plus_hessian_lr([1, 16, 1e6], top_eigenvalue=2.0, noise=32.0).round(4))
    [0.0588 0.5    1.    ]
    """
    b = positive("batch_size", batch_size)
    top = positive("top_eigenvalue", top_eigenvalue)
    kappa = nonnegative("noise", noise)
    return scalar_or_array(2 / (top + kappa / b))


def adam_max_stable_lr(sharpness, *, beta1=0.9):
    r"""Adam's largest stable learning rate with its preconditioner frozen: Cohen et al.'s
    adaptive edge of stability.

    .. math::

        \eta_{\max} = \frac{2(1 + \beta_1)}{(1 - \beta_1)\,\lambda_{\max}(P^{-1}H)},

    where ``sharpness`` is the preconditioned sharpness :math:`\lambda_{\max}(P^{-1}H)`, the
    largest eigenvalue of the Hessian :math:`H` preconditioned by Adam's denominator
    :math:`P = \operatorname{diag}(\sqrt{\hat v} + \epsilon)`. With :math:`P` held fixed,
    Adam's update on a quadratic is exponential-moving-average momentum, stable along every
    eigenvector of :math:`P^{-1}H` iff :math:`\eta\lambda < 2(1+\beta_1)/(1-\beta_1)`
    (:func:`nqm.symbolic.adam_stability_bound`): :math:`38/\eta` for :math:`\beta_1 = 0.9`,
    the threshold at which Cohen et al. find the preconditioned sharpness of full-batch Adam
    equilibrates. Assumptions: a locally quadratic loss, :math:`P` frozen (in training it
    adapts, so Adam need not diverge above the threshold), bias correction's factor near 1.
    Granziol et al.'s square-root rule for Adam follows when the minibatch noise dominates both
    :math:`H_B` (a :math:`1/B` term) and :math:`\hat v` (so :math:`P \propto B^{-1/2}`).

    Parameters
    ----------
    sharpness : array_like of float
        :math:`\lambda_{\max}(P^{-1}H) > 0`.
    beta1 : array_like of float, default 0.9
        Adam's first-moment decay, in ``[0, 1)``.

    Returns
    -------
    float or ndarray

    References
    ----------
    .. [1] J. M. Cohen, B. Ghorbani, S. Krishnan, N. Agarwal, S. Medapati, M. Badura, D. Suo,
       D. Cardoze, Z. Nado, G. E. Dahl, J. Gilmer, "Adaptive Gradient Methods at the Edge of
       Stability", arXiv:2207.14484 (2022), section 2 (the threshold :math:`38/\eta`).
    .. [2] D. Granziol, S. Zohren, S. Roberts, "Learning Rates as a Function of Batch Size",
       JMLR 23 (2022), arXiv:2006.09092 (square-root scaling for adaptive methods).

    See Also
    --------
    noise_plus_hessian_lr : SGD's edge from the minibatch Hessian.
    claimed_max_lr : Granziol et al.'s square-root rule anchored at one point.
    DiagonalNQM.max_stable_lr : The heavy-ball bound :math:`2(1+\beta)/h` it rescales.

    Examples
    --------
    Cohen et al.'s threshold: a preconditioned sharpness of 38 is stable up to rate 1 at
    :math:`\beta_1 = 0.9`; without momentum the bound is gradient descent's :math:`2/\lambda`.

    >>> from nqm import adam_max_stable_lr
    >>> print(adam_max_stable_lr([38.0, 2.0], beta1=[0.9, 0.0]))
    [1. 1.]
    """
    lam = positive("sharpness", sharpness)
    beta = nonnegative("beta1", beta1)
    if (beta >= 1.0).any():
        raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
    return scalar_or_array(2 * (1 + beta) / ((1 - beta) * lam))
