"""Adam's hyperparameters as functions of the batch size: the square-root SDE scaling rule."""

from __future__ import annotations

import math
from dataclasses import dataclass

from empirical._core.arguments import MAX_EXAMPLES, checked, numbers, real, whole

BETAS = numbers(1, low=0.0)


@dataclass(frozen=True)
class AdamScaling:
    r"""Adam's betas and eps at batch size ``B`` from their values at a reference batch size.

    Malladi et al.'s square-root scaling rule for Adam: when the batch grows by
    :math:`\kappa = B / B_\mathrm{ref}`,

    .. math::

        \eta \to \sqrt{\kappa}\,\eta, \quad
        1 - \beta_i \to \kappa\,(1 - \beta_i), \quad
        \epsilon \to \epsilon / \sqrt{\kappa},

    where :math:`B_\mathrm{ref}` is ``reference_batch``, :math:`\beta_1, \beta_2, \epsilon`
    are the optimizer's values at the reference, and :math:`\eta` is the learning rate. The
    rule keeps the Adam SDE of their Theorem (the drift and diffusion of the parameters and
    of the moment estimates, in time :math:`t = k\eta^2`) the same, so that runs at every
    batch size trace the same loss curve against the examples seen, ``k B``. The rate is what
    a sweep varies, so a sweep scales only the betas and eps (:meth:`betas_at`,
    :meth:`eps_at`); :meth:`lr_factor` is the rate's factor.

    Assumptions: the SDE approximation holds (small rates, a noise-dominated second moment,
    :math:`v \approx \operatorname{diag}\Sigma / B`; eps's factor keeps
    :math:`\sqrt{v}/\epsilon` fixed), and the scaled betas exist: :math:`\kappa (1 - \beta_i)
    < 1`. Where a beta would reach 0 or below, the rule is undefined and :meth:`betas_at`
    raises.

    Parameters
    ----------
    reference_batch : int
        :math:`B_\mathrm{ref}`, where the optimizer's own betas and eps hold.
    scale_betas : bool, default True
        Scale ``1 - beta`` by ``kappa`` (both betas).
    scale_eps : bool, default True
        Divide eps by ``sqrt(kappa)``.

    References
    ----------
    S. Malladi, K. Lyu, A. Panigrahi, S. Arora, On the SDEs and scaling rules for adaptive
    gradient algorithms, NeurIPS 2022, arXiv:2205.10287 (section 4, the square-root scaling
    rule for Adam and RMSprop).

    See Also
    --------
    OptimizerConfig : Carries one for a workload.
    SweepSpec : ``adam_scaling`` for ``mlp-adam``.

    Examples
    --------
    >>> from empirical import AdamScaling
    >>> rule = AdamScaling(reference_batch=32)
    >>> rule.betas_at((0.9, 0.999), 128), rule.eps_at(1e-8, 128), rule.lr_factor(128)
    ((0.6, 0.996), 5e-09, 2.0)
    """

    reference_batch: int
    scale_betas: bool = True
    scale_eps: bool = True

    def __post_init__(self):
        whole(1, MAX_EXAMPLES)("AdamScaling.reference_batch", self.reference_batch)
        for name in ("scale_betas", "scale_eps"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"AdamScaling.{name} must be True or False, got "
                                f"{getattr(self, name)!r}")

    @checked(batch_size=whole(1, MAX_EXAMPLES))
    def kappa(self, batch_size: int) -> float:
        """``batch_size / reference_batch``."""
        return batch_size / self.reference_batch

    @checked(batch_size=whole(1, MAX_EXAMPLES))
    def lr_factor(self, batch_size: int) -> float:
        """The rate's factor, ``sqrt(kappa)``."""
        return math.sqrt(self.kappa(batch_size))

    @checked(betas=BETAS, batch_size=whole(1, MAX_EXAMPLES))
    def defined_at(self, betas: tuple, batch_size: int) -> bool:
        """Whether every scaled beta stays in ``(0, 1)``: ``kappa (1 - beta) < 1``, to 1e-12."""
        # a beta within rounding of 0 counts as 0 (kappa = 10 times 1 - 0.9 is 1 - 2e-16)
        return not self.scale_betas or all(1 - self.kappa(batch_size) * (1 - b) > 1e-12
                                           for b in betas)

    @checked(betas=BETAS, batch_size=whole(1, MAX_EXAMPLES))
    def betas_at(self, betas: tuple, batch_size: int) -> tuple:
        """The betas at ``batch_size``: ``1 - kappa (1 - beta)``, rounded to 15 digits.

        Raises ``ValueError`` where the rule is undefined (a scaled beta at or below 0).
        """
        for beta in betas:
            real(0.0, 1.0, open_high=True)("betas", beta)
        if not self.scale_betas:
            return tuple(float(b) for b in betas)
        kappa = self.kappa(batch_size)
        if not self.defined_at(betas, batch_size):
            raise ValueError(
                f"the square-root rule is undefined at batch size {batch_size}: kappa = "
                f"{kappa:g} times 1 - beta = {[round(1 - b, 12) for b in betas]} reaches 1, so a "
                "beta would be <= 0; use a larger reference_batch or betas nearer 1")
        return tuple(round(1 - kappa * (1 - b), 15) for b in betas)

    @checked(eps=real(0.0), batch_size=whole(1, MAX_EXAMPLES))
    def eps_at(self, eps: float, batch_size: int) -> float:
        """Adam's eps at ``batch_size``: ``eps / sqrt(kappa)``."""
        return eps / self.lr_factor(batch_size) if self.scale_eps else float(eps)

    def to_dict(self) -> dict:
        """Its fields, JSON-ready; ``AdamScaling(**rule.to_dict()) == rule``."""
        return dict(reference_batch=self.reference_batch, scale_betas=self.scale_betas,
                    scale_eps=self.scale_eps)
