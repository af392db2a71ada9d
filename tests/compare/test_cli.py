"""The ``lrbs`` command line: the theory tables and bad input."""

import subprocess
import sys

import pytest

from compare.cli import main


def test_theory_prints_both_tables(capsys):
    assert main(["theory", "--batch-sizes", "1,16,256", "--dim", "100"]) == 0
    out = capsys.readouterr().out
    assert "Scalar NQM" in out and "lr* horizon" in out
    assert out.count("critical batch size") == 3
    assert "momentum 0.9" in out and "H^-1/2" in out


@pytest.mark.parametrize("argv", [["theory", "--batch-sizes", "0,4"],
                                  ["theory", "--target", "-1"],
                                  ["theory", "--steps", "x"]])
def test_bad_input_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_unreachable_target_is_one_line(capsys):
    assert main(["theory", "--target", "0.7", "--dim", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--target" in err


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "compare.cli", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("lrbs ")
