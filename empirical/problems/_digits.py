"""scikit-learn's bundled digits: the scaling-law study's data split and MLP shapes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from empirical._core.arguments import FRACTION, SEED, checked, kind, whole


@dataclass(frozen=True)
class DigitsSplit:
    """A fixed train/validation/test split of the 8x8 digits, inputs standardized on train.

    Attributes
    ----------
    X_train, X_val, X_test : ndarray of float32, shape (n, 64)
    y_train, y_val, y_test : ndarray of int64, shape (n,)
    seed : int

    See Also
    --------
    load_digits_split : Builds it.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    seed: int


def load_digits_split(seed: int = 0, *, val_fraction: float = 0.2,
                      test_fraction: float = 0.2) -> DigitsSplit:
    """Split ``sklearn.datasets.load_digits`` (1797 images, shipped with scikit-learn).

    The permutation comes from ``numpy.random.default_rng(seed)``; the mean and standard
    deviation of each pixel are taken on the training part (pixels constant there are left
    centred, not scaled).

    See Also
    --------
    train_digits_batched : Trains on it.

    Examples
    --------
    >>> from empirical import load_digits_split
    >>> split = load_digits_split(0)
    >>> split.X_train.shape, split.X_val.shape, split.X_test.shape
    ((1079, 64), (359, 64), (359, 64))
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:                       # the optional extra is missing
        raise ImportError("the scaling-law study needs scikit-learn: "
                          "pip install -c constraints.txt -e '.[data]'") from exc
    SEED("seed", seed)
    FRACTION("val_fraction", val_fraction)
    FRACTION("test_fraction", test_fraction)
    if not val_fraction + test_fraction < 1:
        raise ValueError(f"val_fraction and test_fraction must be in (0, 1) and sum below 1, got "
                         f"{val_fraction} and {test_fraction}")
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test, n_val = round(test_fraction * len(y)), round(val_fraction * len(y))
    test, val, train = np.split(order, [n_test, n_test + n_val])
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std == 0] = 1.0

    def prep(idx):
        return ((X[idx] - mean) / std).astype(np.float32), y[idx].astype(np.int64)

    return DigitsSplit(*prep(train), *prep(val), *prep(test), seed=seed)


@dataclass(frozen=True)
class MLPShape:
    """A ReLU MLP ``64 -> width x depth -> 10``.

    Attributes
    ----------
    width : int
    depth : int
        Number of hidden layers.

    See Also
    --------
    ScalingSpec : The shapes of a study.
    tune_shape : Tunes one shape.
    """

    width: int
    depth: int

    def __post_init__(self):
        for name in ("width", "depth"):
            whole(1, 2**20)(f"MLPShape.{name}", getattr(self, name))

    @property
    def layer_sizes(self) -> list[int]:
        return [64] + [self.width] * self.depth + [10]

    @property
    def n_params(self) -> int:
        """Weights and biases: :math:`\\sum_l (n_l + 1) n_{l+1}`."""
        s = self.layer_sizes
        return sum((a + 1) * b for a, b in zip(s[:-1], s[1:], strict=True))


@checked(shape=kind(MLPShape), seed=SEED, generator=kind(torch.Generator))
def init_mlp_params(shape: MLPShape, seed: int, generator: torch.Generator) -> list[torch.Tensor]:
    """``torch.nn.Linear``'s default distribution, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn
    from ``generator`` layer by layer (weight as (fan_in, fan_out), then bias).

    See Also
    --------
    train_mlp_batched : Trains from it.
    empirical.reference.train_mlp : The per-run loop.
    """
    params = []
    for fan_in, fan_out in zip(shape.layer_sizes[:-1], shape.layer_sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        params.append((torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound)
        params.append((torch.rand(1, fan_out, generator=generator) * 2 - 1) * bound)
    return params


DEFAULT_SHAPES = tuple(MLPShape(w, d) for d in (1, 2) for w in (8, 16, 32, 64, 128))
"""Widths 8-128 at depths 1 and 2: 610 to 26,122 parameters (43x)."""
