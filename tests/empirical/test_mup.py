"""muP on the digits MLPs: the ``mup`` package's own rules, and the coordinate check."""

import numpy as np
import pytest

from empirical import MLPShape, mup_scaling

# What mup 1.0.0 (github.com/microsoft/mup) sets, run outside this repository on an MLP
# nn.Linear(64, w) -> nn.Linear(w, w) -> MuReadout(w, 10) with set_base_shapes(model,
# MLP(8), delta=MLP(16)): the learning rate of each parameter group of MuAdam / MuSGD(lr=1),
# the ratio of each parameter after set_base_shapes to its default nn.Linear draw, and
# MuReadout's output_mult / width_mult(). Parameters in order W_in, b_in, W_hid, b_hid,
# W_out, b_out.
MUP_PACKAGE = {
    32: dict(adam=(1.0, 1.0, 0.25, 1.0, 1.0, 1.0), sgd=(4.0, 4.0, 1.0, 4.0, 4.0, 1.0),
             init=(1.0, 1.0, 1.0, 2.0, 2.0, 2.0), readout=0.25),
    128: dict(adam=(1.0, 1.0, 0.0625, 1.0, 1.0, 1.0), sgd=(16.0, 16.0, 1.0, 16.0, 16.0, 1.0),
              init=(1.0, 1.0, 1.0, 4.0, 4.0, 4.0), readout=0.0625),
}


@pytest.mark.parametrize("width", sorted(MUP_PACKAGE))
def test_scaling_reproduces_the_mup_package(width):
    known = MUP_PACKAGE[width]
    for optimizer in ("adam", "sgd"):
        s = mup_scaling(MLPShape(width, 2), 8, optimizer)
        assert s.lr == pytest.approx(known[optimizer])
        assert s.init == pytest.approx(known["init"])
        assert s.readout == pytest.approx(known["readout"])


def test_depth_one_has_no_hidden_to_hidden_weights():
    s = mup_scaling(MLPShape(64, 1), 16, "adam")
    assert s.lr == (1.0, 1.0, 1.0, 1.0) and s.init == (1.0, 1.0, 2.0, 2.0)
    assert mup_scaling(MLPShape(64, 1), 16, "sgd").lr == (4.0, 4.0, 4.0, 1.0)


def test_bad_optimizer():
    with pytest.raises(ValueError, match="optimizer"):
        mup_scaling(MLPShape(8, 1), 8, "rmsprop")


def test_coordinate_check_separates_the_parametrizations():
    """Under muP with Adam every layer's coordinates keep their size as the width grows 16 to
    512, at initialization and over 4 steps; under the standard parametrization the logits
    grow with width from the first update (measured: slope 0.58-0.77 in log-log)."""
    pytest.importorskip("sklearn", reason="the digits need the 'data' extra")
    from empirical import coordinate_check, load_digits_split
    split = load_digits_split(0)
    widths = [16, 32, 64, 128, 256, 512]
    mup = coordinate_check(split, widths, 1e-2, mup_base_width=16)
    standard = coordinate_check(split, widths, 1e-2)
    assert mup.sizes.shape == (6, 5, 3)
    assert np.abs(mup.slopes()).max() < 0.2
    assert standard.slopes()[1:, -1].min() > 0.5
    # the parametrizations coincide at the base width
    np.testing.assert_allclose(mup.sizes[0], standard.sizes[0], rtol=1e-6)
