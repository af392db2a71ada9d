"""Your own model for lrbs: a small convolutional network on scikit-learn's digits.

Sweep it with ``lrbs sweep --workload digits_cnn.py:workload --out cnn-sweep``.
"""

import numpy as np
import torch
from sklearn.datasets import load_digits

from empirical import OptimizerConfig, Workload


def network() -> torch.nn.Module:
    return torch.nn.Sequential(                                                     # 1 x 8 x 8
        torch.nn.Conv2d(1, 16, 3, stride=2, padding=1), torch.nn.ReLU(),            # 16 x 4 x 4
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),           # 32 x 2 x 2
        torch.nn.Flatten(), torch.nn.Linear(128, 10))


def workload() -> Workload:
    digits = load_digits()                          # 1797 8x8 images, shipped with scikit-learn
    images = torch.as_tensor(digits.images / 16.0, dtype=torch.float32)[:, None]
    labels = torch.as_tensor(digits.target)
    order = torch.as_tensor(np.random.RandomState(0).permutation(len(labels)))
    train, test = order[:1400], order[1400:]
    return Workload.from_module(
        "digits CNN, SGD with momentum", network, torch.nn.functional.cross_entropy,
        train=(images[train], labels[train]), test=(images[test], labels[test]),
        optimizer=OptimizerConfig("sgd", momentum=0.9))
