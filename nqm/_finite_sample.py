"""Exact expected SGD dynamics of least squares on a given finite training set."""

from __future__ import annotations

import numpy as np

from nqm._affine import minimize_on_log_scale
from nqm._validation import as_float_array, positive, scalar_or_array, steps_array, whole_array


def _as_2d(name: str, value) -> np.ndarray:
    arr = as_float_array(name, value)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-d or 2-d array, got shape {arr.shape}")
    return arr


class FiniteSampleLeastSquaresSGD:
    r"""Expected test MSE of minibatch SGD on a fixed training set, exact over the index draws.

    Each step draws :math:`B` indices uniformly with replacement (as ``np.random.randint``)
    and applies :math:`W \leftarrow W - \tfrac{2\eta}{B}\sum_b x_{i_b}^\top(x_{i_b}W - y_{i_b})`.
    With :math:`\hat W` the least-squares solution, residuals :math:`r_n = y_n - x_n\hat W`,
    :math:`\Delta = W - \hat W`, :math:`m = \mathbb{E}\Delta` and
    :math:`P = \mathbb{E}\Delta\Delta^\top`, the expectation over the index draws obeys
    exactly

    .. math::

        m' &= (I - 2\eta S) m, \\
        P' &= P - 2\eta(SP + PS) + 4\eta^2\Big[\tfrac{1}{B}K[P] + \big(1-\tfrac1B\big) SPS
              + \tfrac1B Q - \tfrac1B (L[m] + L[m]^\top)\Big],

    where :math:`S = X^\top X/N`, :math:`K[P] = \operatorname{mean}_n (x_n P x_n^\top)
    x_n^\top x_n`, :math:`Q = \operatorname{mean}_n \lVert r_n\rVert^2 x_n^\top x_n` and
    :math:`L[m] = \operatorname{mean}_n (x_n m r_n^\top) x_n^\top x_n` (derived in
    :func:`nqm.symbolic.finite_sample_recursion`). :math:`K` and :math:`L` are applied through
    the fourth-moment tensors of the training set, so one step costs :math:`O(D^4)`
    regardless of :math:`N`. The test MSE (mean over test points and outputs) is
    :math:`[\operatorname{tr}(S_\mathrm{test}P) - 2\langle X_\mathrm{test}^\top e, m\rangle/M
    + \operatorname{mean}_n\lVert e_n\rVert^2]/K_\mathrm{out}` with :math:`e` the test
    residuals of :math:`\hat W`.

    Parameters
    ----------
    X_train : array_like of float, shape (n_train, dim)
    y_train : array_like of float, shape (n_train,) or (n_train, n_out)
    X_test : array_like of float, shape (n_test, dim)
    y_test : array_like of float, shape (n_test,) or (n_test, n_out)

    See Also
    --------
    nqm.LeastSquaresSGD : Fresh samples at every step.
    empirical.train_linear_sgd_batched : The sweep it predicts.

    Notes
    -----
    Exact in expectation over the minibatch indices for the given data (and, with
    ``w_init=None``, over an initialization with i.i.d. :math:`N(0, 1)` entries); no
    Gaussian or large-:math:`N` assumption. This is what predicts the notebook's measured
    optimum at each batch size, which :class:`LeastSquaresSGD` only approximates.

    References
    ----------
    .. [1] C. Paquette, K. Lee, F. Pedregosa, E. Paquette, "SGD in the Large: Average-case
       Analysis, Asymptotics, and Stepsize Criticality", COLT 2021, arXiv:2102.04396 (SGD's
       risk on least squares through its second moments, in the high-dimensional limit; the
       recursion here is exact at any size, for a fixed training set and batches drawn with
       replacement).

    Examples
    --------
    >>> import numpy as np
    >>> from nqm import FiniteSampleLeastSquaresSGD
    >>> rng = np.random.default_rng(0)
    >>> X, Xt = rng.standard_normal((500, 4)), rng.standard_normal((200, 4))
    >>> W = rng.standard_normal((4, 4))
    >>> y, yt = X @ W + rng.standard_normal((500, 4)), Xt @ W + rng.standard_normal((200, 4))
    >>> model = FiniteSampleLeastSquaresSGD(X, y, Xt, yt)
    >>> curves = model.expected_test_mse([0.01, 0.1], 8, 50)
    >>> print(curves.shape, curves[:, -1].round(3))
    (2, 51) [1.775 1.056]
    """

    def __init__(self, X_train, y_train, X_test, y_test):
        X, Y = _as_2d("X_train", X_train), _as_2d("y_train", y_train)
        Xt, Yt = _as_2d("X_test", X_test), _as_2d("y_test", y_test)
        for xs, ys, x_name, y_name in ((X, Y, "X_train", "y_train"),
                                       (Xt, Yt, "X_test", "y_test")):
            if xs.shape[0] != ys.shape[0]:
                raise ValueError(f"{x_name} has {xs.shape[0]} rows but {y_name} has "
                                 f"{ys.shape[0]}: they must have one row per example")
        if Xt.shape[1] != X.shape[1] or Yt.shape[1] != Y.shape[1]:
            raise ValueError(f"train and test shapes disagree: X_train {X.shape} vs X_test "
                             f"{Xt.shape}, y_train {Y.shape} vs y_test {Yt.shape}")
        n, d = X.shape
        self.dim, self.n_out = d, Y.shape[1]
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            self.w_hat = np.linalg.lstsq(X, Y, rcond=None)[0]
            r = Y - X @ self.w_hat
            outer = (X[:, :, None] * X[:, None, :]).reshape(n, d * d)     # vec(x^T x)
            cross = (X[:, :, None] * r[:, None, :]).reshape(n, d * self.n_out)  # vec(x^T r)
            self._S = X.T @ X / n
            self._K = outer.T @ outer / n                                 # (d^2, d^2)
            self._L = outer.T @ cross / n                                 # (d^2, d*n_out)
            self._Q = (X * (r**2).sum(axis=1)[:, None]).T @ X / n
            e = Yt - Xt @ self.w_hat
            self._S_test = Xt.T @ Xt / Xt.shape[0]
            self._c_test = Xt.T @ e / Xt.shape[0]
            self._e_sq = float((e**2).sum(axis=1).mean())
        moments = (self.w_hat, self._K, self._L, self._Q, self._S_test, self._c_test,
                   self._e_sq)
        if not all(np.isfinite(m).all() for m in moments):
            sizes = ", ".join(f"{name} {np.abs(a).max():.3g}" for name, a in
                              (("X_train", X), ("y_train", Y), ("X_test", Xt), ("y_test", Yt)))
            raise ValueError(f"the data's fourth moments overflow float64 (largest entries: "
                             f"{sizes}); rescale the data")

    def _initial(self, w_init):
        if w_init is None:
            return -self.w_hat, self.n_out * np.eye(self.dim) + self.w_hat @ self.w_hat.T
        w0 = as_float_array("w_init", w_init).reshape(self.w_hat.shape)
        m0 = w0 - self.w_hat
        return m0, m0 @ m0.T

    def _mse(self, m, P):
        return (np.einsum("ij,...ji->...", self._S_test, P)
                - 2.0 * np.einsum("ij,...ij->...", self._c_test, m) + self._e_sq) / self.n_out

    def expected_test_mse(self, lrs, batch_size, steps, *, w_init=None):
        r"""Expected test-MSE curves, one per learning rate, at steps ``0..steps``.

        Parameters
        ----------
        lrs : array_like of float, shape (n_lr,)
            Learning rates, ``> 0``.
        batch_size : int
            Minibatch size, ``>= 1``.
        steps : int
            Number of SGD steps.
        w_init : array_like of float, shape (dim, n_out), optional
            A given initialization; ``None`` averages over i.i.d. :math:`N(0, 1)` entries.

        Returns
        -------
        ndarray, shape (n_lr, steps + 1)
            Non-finite (``inf``) from the step where the moments overflow.
        """
        lrs = np.atleast_1d(positive("lrs", lrs))[:, None, None]
        b = float(whole_array("batch_size", batch_size, low=1))
        steps = int(steps_array("steps", steps))
        m0, P0 = self._initial(w_init)
        d, k = self.dim, self.n_out
        m = np.broadcast_to(m0, (lrs.shape[0], d, k)).copy()
        P = np.broadcast_to(P0, (lrs.shape[0], d, d)).copy()
        S, Q = self._S, self._Q
        out = np.empty((lrs.shape[0], steps + 1))
        out[:, 0] = self._mse(m, P)
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(1, steps + 1):
                KP = (P.reshape(-1, d * d) @ self._K).reshape(P.shape)
                Lm = (m.reshape(-1, d * k) @ self._L.T).reshape(P.shape)
                SP = S @ P
                P = (P - 2.0 * lrs * (SP + np.swapaxes(SP, 1, 2))
                     + 4.0 * lrs**2 * (KP / b + (1.0 - 1.0 / b) * SP @ S + Q / b
                                       - (Lm + np.swapaxes(Lm, 1, 2)) / b))
                # P is symmetric; SP + (SP)^T stands for SP + PS only while it stays so, and
                # rounding's antisymmetric part would otherwise grow through that term
                P = 0.5 * (P + np.swapaxes(P, 1, 2))
                m = m - 2.0 * lrs * (S @ m)
                out[:, t] = self._mse(m, P)
        return np.where(np.isfinite(out), out, np.inf)

    def optimal_lr(self, batch_size, steps, *, window: int = 1, w_init=None) -> float:
        r"""Learning rate minimizing the expected mean test MSE over the last ``window`` steps.

        Searched over :math:`(0, 1/\lambda_\max(S)]` (the full-batch stability bound) on a
        geometric grid, refined by bounded Brent in :math:`\log\eta`.
        """
        steps = int(steps_array("steps", steps))
        if not isinstance(window, int | np.integer) or not 1 <= window <= steps:
            raise ValueError(f"window must be an integer in [1, steps={steps}], got {window!r}")
        high = 1.0 / np.linalg.eigvalsh(self._S)[-1]

        def objective(lrs):
            return self.expected_test_mse(lrs, batch_size, steps, w_init=w_init)[
                :, -window:].mean(axis=1)

        return scalar_or_array(minimize_on_log_scale(objective, 1e-6 * high, high, n_grid=64,
                                                     xatol=1e-8))
