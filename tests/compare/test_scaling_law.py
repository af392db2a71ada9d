"""L(N) = E + A N^-alpha: a known law recovered within its intervals, the extrapolation check, the CLI."""

import json

import numpy as np
import pytest

from compare import extrapolation_check, fit_scaling_law
from compare.cli import main

N = np.array([600, 1200, 2400, 4800, 9600, 19200, 38400, 76800], dtype=float)
LAW = dict(E=0.08, A=40.0, alpha=0.9)


def _law(n):
    return LAW["E"] + LAW["A"] * n ** -LAW["alpha"]


def _seeds(n_seed=3, noise=0.03, seed=0):
    rng = np.random.default_rng(seed)
    return _law(N)[:, None] * np.exp(noise * rng.standard_normal((N.size, n_seed)))


def test_exact_law_is_recovered():
    fit = fit_scaling_law(N, _law(N))
    assert fit.E == pytest.approx(LAW["E"], rel=1e-4)
    assert fit.A == pytest.approx(LAW["A"], rel=1e-3)
    assert fit.alpha == pytest.approx(LAW["alpha"], rel=1e-4)


def test_noisy_law_intervals_cover_the_truth():
    # 20 synthetic studies of 3 seeds (3% noise): each parameter's nominal 95% interval must
    # cover the truth in most (measured 87-93% over 30 studies; with 3 seeds the bootstrap has
    # only 10 distinct resamples, so coverage is below nominal and asserted at 75%)
    covered = {name: 0 for name in LAW}
    for seed in range(20):
        fit = fit_scaling_law(N, _seeds(seed=100 + seed), n_boot=100)
        for name, true in LAW.items():
            lo, hi = fit.intervals[name]
            covered[name] += lo <= true <= hi
    assert all(count >= 15 for count in covered.values()), covered
    lo, hi = fit.band(N)
    assert np.all(lo <= fit.predict(N)) and np.all(fit.predict(N) <= hi)


def test_lack_of_fit_is_rare_on_the_law_and_found_off_it():
    """On losses drawn from the law (3 seeds, 3% noise) the p-value falls below 0.01 in at
    most 5% of 100 studies (measured 1-3%: the Huber fit is not least squares, so slightly
    more than the nominal 1%); a 20% bump at one size is found in every study."""
    p = np.array([fit_scaling_law(N, _seeds(seed=200 + s), n_boot=2).lack_of_fit
                  for s in range(100)])
    assert np.mean(p < 0.01) <= 0.05
    for s in range(10):
        bumped = _seeds(seed=300 + s)
        bumped[4] *= 1.2
        assert fit_scaling_law(N, bumped, n_boot=2).lack_of_fit < 0.01


def test_extrapolation_check_fits_two_thirds_and_predicts_the_largest():
    check = extrapolation_check(N, _seeds(noise=0.01), n_boot=50)
    assert check.n_fitted == 5 and check.n_params == N.max()
    assert check.measured == pytest.approx(_seeds(noise=0.01)[-1].mean())
    assert abs(check.relative_error) < 0.05      # a 1%-noise law extrapolates well
    assert check.predicted == pytest.approx(check.fit.predict(N.max()))


@pytest.mark.parametrize("n,losses", [(N[:2], _law(N[:2])), (N, -_law(N)), (N, _law(N)[:-1])])
def test_fit_rejects_bad_input(n, losses):
    with pytest.raises(ValueError):
        fit_scaling_law(n, losses)


def test_scaling_law_command(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert main(["scaling-law", "--quick", "--seeds", "0", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "L(N) = E + A N^-alpha" in out and "Fitted on the smallest 4 shapes" in out
    results = json.loads((tmp_path / "scaling_law.json").read_text())
    assert len(results["shapes"]) == 6
    assert {"E", "A", "alpha", "intervals"} <= set(results["law"])
    assert results["extrapolation"]["n_fitted"] == 4
    for paths in results["figures"].values():
        assert (tmp_path / paths["png"]).exists() and (tmp_path / paths["svg"]).exists()
    assert (tmp_path / "scaling_law.md").read_text().count("\n| ") == 6
    data = results["data_law"]                    # 6 widths x the whole split and 3 fractions
    assert len(data["points"]) == 24 and "data_law" in results["figures"]
    assert sorted({p["n_examples"] for p in data["points"]}) == [135, 270, 540, 1079]
    assert "L(N, D) = E + A N^-alpha + B D^-beta over 6 widths x 4 training-set sizes" in out
    check_data_law_sentences(results)
    # the nuisance and muP studies ran too, their figures and sentences beside the law's
    assert {"nuisance", "mup_transfer"} <= set(results["figures"])
    assert len(results["nuisance"]["shapes"]) == 3 and results["mup_transfer"]["widths"] == [8, 16, 32]
    assert "Tuned jointly over the learning rate" in out and "Under muP the tuned rate" in out
    assert "Under muP the tuned rate" in (tmp_path / "scaling_law.md").read_text()
    # every folder trained is one scaling_law_settings lists, so the command's two cores
    # trained what run_scaling_law then read back
    from compare.studies.scaling_law import scaling_law_settings
    listed = scaling_law_settings(tmp_path, seeds=(0,), quick=True)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(f.name for _, f in listed)


def test_full_selects_the_full_grids(monkeypatch, tmp_path, capsys):
    """``--full`` reaches run_scaling_law, which hands it to both runners, which train the
    full grids; ``--quick --full`` is refused in one line."""
    import compare
    import compare.studies.mup_transfer as transfer
    import compare.studies.nuisance as nuisance
    from compare.analysis._nuisance import NUISANCE_FULL
    from compare.analysis._transfer import TRANSFER_FULL
    seen = {}
    from compare.report import _second_core
    monkeypatch.setattr(_second_core, "train_settings", lambda settings, **k: seen.update(
        settings=settings))
    monkeypatch.setattr(compare, "run_scaling_law", lambda out, **k: seen.update(k) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["scaling-law", "--full", "--out", str(tmp_path), "--quiet"])
    assert seen["full"] is True and seen["quick"] is False
    # the settings handed to the two cores, longest first: 5 batch sizes, muP, standard, the
    # main study and its 3 data sizes
    batch_sizes = [spec.batch_size for spec, _ in seen["settings"]]
    assert batch_sizes[:5] == sorted(NUISANCE_FULL["batch_sizes"], reverse=True)
    assert [spec.mup_base_width for spec, _ in seen["settings"][5:7]] == [8, None]
    assert len(seen["settings"]) == 11 and len({f for _, f in seen["settings"]}) == 11
    specs = []

    def record(spec, **kwargs):
        specs.append(spec)
        raise ValueError("recorded")
    for module in (nuisance, transfer):
        monkeypatch.setattr(module, "run_scaling_study", record)
    for runner in (nuisance.run_nuisance, transfer.run_transfer):
        with pytest.raises(ValueError, match="recorded"):
            runner(tmp_path, 2, full=True)
    assert [(s.width, s.depth) for s in specs[0].shapes] == list(NUISANCE_FULL["shapes"])
    assert specs[0].dropout == NUISANCE_FULL["dropout"] and specs[0].batch_size == 16
    assert [(s.width, s.depth) for s in specs[1].shapes] == list(TRANSFER_FULL["shapes"])
    assert specs[1].mup_base_width is None                        # standard first, then muP
    assert main(["scaling-law", "--quick", "--full", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--quick and --full" in capsys.readouterr().err


def check_data_law_sentences(results):
    """The L(N, D) sentences follow their numbers: change one and the sentence changes."""
    import copy

    from compare import scaling_law_conclusions
    changed = copy.deepcopy(results)
    data = changed["data_law"]
    data["compute_optimal"].update(supported=True, a=0.55, a_interval=[0.5, 0.6], b=0.45)
    data["held_out"][1]["error"] = 0.123
    data["fit"]["converged"] = False
    text = " ".join(scaling_law_conclusions(changed))
    assert "N_opt ~ C^a with a = 0.55 [0.5, 0.6] and D_opt ~ C^0.45" in text
    assert "it predicts those 6 points +12.3%" in text
    assert "did not converge" in text
    data["compute_optimal"]["supported"] = False
    assert "The compute-optimal split is not stated" in " ".join(scaling_law_conclusions(changed))


@pytest.mark.parametrize("argv", [["scaling-law", "--seeds", "-1"], ["scaling-law", "--bogus"],
                                  ["scaling-law", "--optimizer", "rmsprop"]])
def test_scaling_law_bad_input(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_scaling_law_bad_dropout_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["scaling-law", "--dropout", "1.5", "--quiet"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_data_law_study_needs_three_data_sizes_of_the_same_shapes():
    pytest.importorskip("sklearn")
    from dataclasses import replace

    from compare.analysis._law_data import data_law_study
    from empirical import LRGrid, ScalingSpec, run_scaling_study
    spec = ScalingSpec(shapes=((4, 1), (8, 1), (16, 1)), seeds=(0,), max_steps=20,
                       grid=LRGrid(base=1e-2, ratio=10.0, k_min=0, k_max=1), max_extensions=0)
    runs = [run_scaling_study(replace(spec, train_size=n)) for n in (100, 200)]
    with pytest.raises(ValueError, match="at least three sizes"):
        data_law_study(runs)
    with pytest.raises(ValueError, match="differ in their training-set size"):
        data_law_study([runs[0], runs[0], runs[1]])
    other = run_scaling_study(replace(spec, shapes=((4, 1), (8, 1), (32, 1)), train_size=400))
    with pytest.raises(ValueError, match="share their shapes"):
        data_law_study([*runs, other])


def test_settings_get_their_own_run_directories(tmp_path):
    from compare import scaling_spec
    from compare.analysis._paths import spec_directory
    quick, full = scaling_spec(1, quick=True), scaling_spec(3)
    a = spec_directory(tmp_path, "digits", quick.to_dict())
    assert a == spec_directory(tmp_path, "digits", scaling_spec(1, quick=True).to_dict())
    assert a != spec_directory(tmp_path, "digits", full.to_dict())
