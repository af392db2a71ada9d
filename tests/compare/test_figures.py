"""The figure style every study shares: plain-text log tick labels, saving."""

import matplotlib.ticker as mticker
import pytest
from matplotlib.figure import Figure

from compare.style._figures import PlainLogFormatter, label_axes, save_figure


@pytest.mark.parametrize(("base", "value", "mathtext", "plain"), [
    (10, 1e-3, r"$\mathdefault{10^{-3}}$", "10⁻³"),
    (10, 1.0, r"$\mathdefault{10^{0}}$", "10⁰"),
    (10, 1e12, r"$\mathdefault{10^{12}}$", "10¹²"),
    (2, 32.0, r"$\mathdefault{2^{5}}$", "2⁵"),
    (2, 0.125, r"$\mathdefault{2^{-3}}$", "2⁻³"),
])
def test_plain_labels_say_what_matplotlibs_mathtext_says(base, value, mathtext, plain):
    assert mticker.LogFormatterSciNotation(base)(value) == mathtext     # matplotlib's own
    assert PlainLogFormatter(base)(value) == plain


def test_every_log_tick_label_of_a_panel_is_plain_text(tmp_path):
    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.plot([2, 2048], [0.0021, 0.0079], label="data")
    label_axes(ax, "batch size $B$", "learning rate", "title")
    paths = save_figure(fig, tmp_path, "panel", formats=("svg",))
    labels = [t.get_text() for axis in (ax.xaxis, ax.yaxis)
              for t in axis.get_majorticklabels() + axis.get_minorticklabels()]
    assert "2×10⁻³" in labels and "2¹¹" in labels
    assert not any("$" in text for text in labels)
    assert paths["svg"].stat().st_size > 1000
