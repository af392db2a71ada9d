"""The parameters of one sweep run from the sweep's own trainer (the edge study's trained point)."""

import numpy as np
import pytest
import torch

from empirical import LRGrid, SweepSpec, reference, train_workload, trained_parameters


@pytest.mark.parametrize("model", ["linear-sgd", "mlp-sgd", "mlp-adam"])
def test_named_as_the_workload_and_the_run_the_sweep_trained(model):
    spec = SweepSpec(model, (16,), LRGrid(k_max=3), steps=40, seeds=(3,))
    workload = spec.workload()
    lr = 0.01 if model != "mlp-adam" else 0.003
    params = trained_parameters(spec, lr, 16, 3)
    expected = workload.parameters(3)
    assert {k: (v.shape, v.dtype) for k, v in params.items()} == \
        {k: (v.shape, v.dtype) for k, v in expected.items()}
    with torch.no_grad():
        final_test = float(workload.measure(params, workload.test))
    if model == "linear-sgd":
        # the notebook's loop on the sweep's problem: the same run, its last test loss
        _, test = reference.train_linear_sgd(spec.problem(), lr, 16, 40, run_seed=3)
        assert final_test == pytest.approx(test[-1], rel=1e-10)
    else:
        # the generic path reproduces the hand-batched kernel for the shipped MLP
        *_, generic = train_workload(workload, [lr], 16, 40, run_seeds=(3,),
                                     return_parameters=True)
        for k, v in params.items():
            assert np.allclose(v.numpy(), generic[k][0, 0].numpy(), rtol=1e-4, atol=1e-6)
        _, test = reference.train_mlp(spec.problem(), lr, 16, 40, run_seed=3,
                                      optimizer=model.split("-")[1])
        assert final_test == pytest.approx(test[-1], rel=1e-4)
