"""Calibrators: they repair over-confident scores, keep their contract, and round-trip files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from swerm_plugin.builtins.calibrate import swerm_calibrate
from swerm_plugin.calibration import (
    AutoCalibrator,
    CalibrationError,
    IsotonicCalibration,
    NotFittedError,
    PlattScaling,
    TemperatureScaling,
    auroc,
    brier_score,
    cross_val_calibrate,
    expected_calibration_error,
    load_calibrator,
    make_calibrator,
)
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Score


def sample(n: int, seed: int, sharpen: float = 1.0, shift: float = 0.0) -> tuple:
    """Labels drawn from true probabilities q, and scores sigmoid(sharpen·logit(q) + shift):
    sharpen = 1, shift = 0 is perfectly calibrated; sharpen > 1 is over-confident."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < q).astype(int)
    z = np.log(q / (1 - q))
    return 1 / (1 + np.exp(-(sharpen * z + shift))), y


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic", "auto"])
def test_calibration_brings_overconfident_ece_to_the_calibrated_level(method: str) -> None:
    train_p, train_y = sample(3000, seed=1, sharpen=3.0)
    test_p, test_y = sample(3000, seed=2, sharpen=3.0)
    well_p, well_y = sample(3000, seed=3)  # well-calibrated scores of the same size
    reference = expected_calibration_error(well_p, well_y)
    before = expected_calibration_error(test_p, test_y)
    after = expected_calibration_error(
        make_calibrator(method).fit(train_p, train_y).transform(test_p), test_y
    )
    assert before > 4 * reference
    assert after < 2 * reference + 0.01  # sampling noise of ECE at n = 3000 is about 0.01


def test_temperature_learns_the_sharpening_and_keeps_the_ranking() -> None:
    p, y = sample(5000, seed=4, sharpen=2.5)
    calibrator = TemperatureScaling().fit(p, y)
    assert calibrator.temperature_ == pytest.approx(2.5, rel=0.15)
    assert auroc(calibrator.transform(p), y) == pytest.approx(auroc(p, y))


def test_platt_repairs_a_bias_temperature_cannot() -> None:
    p, y = sample(4000, seed=5, shift=2.0)  # says YES too often, not too sharply
    platt = PlattScaling().fit(p, y)
    assert platt.slope_ == pytest.approx(1.0, abs=0.15)
    assert platt.intercept_ == pytest.approx(-2.0, abs=0.25)
    test_p, test_y = sample(4000, seed=6, shift=2.0)
    platt_ece = expected_calibration_error(platt.transform(test_p), test_y)
    temp_ece = expected_calibration_error(TemperatureScaling().fit(p, y).transform(test_p), test_y)
    assert platt_ece < temp_ece


def test_isotonic_is_monotone_and_clips_outside_the_fitted_range() -> None:
    p, y = sample(800, seed=7, sharpen=2.0)
    iso = IsotonicCalibration().fit(p, y)
    grid = np.linspace(0, 1, 101)
    mapped = iso.transform(grid)
    assert np.all(np.diff(mapped) >= 0)
    assert mapped[0] == iso.y_thresholds_[0] and mapped[-1] == iso.y_thresholds_[-1]


def test_auto_picks_by_cross_validated_log_loss() -> None:
    p, y = sample(2000, seed=8, sharpen=0.4)  # under-confident: one parameter fixes it
    auto = AutoCalibrator(cv=4).fit(p, y)
    assert set(auto.cv_log_loss_) == {"temperature", "platt", "isotonic"}
    assert auto.method_ == min(auto.cv_log_loss_, key=auto.cv_log_loss_.get)
    np.testing.assert_allclose(auto.transform(p), auto.calibrator_.transform(p))


def test_cross_fitted_scores_never_use_their_own_label() -> None:
    # Labels independent of the scores: in-sample, isotonic fits the noise and looks better than
    # the constant 0.5 (Brier 0.25); out of fold it cannot, so it looks no better.
    for seed in range(3):
        rng = np.random.default_rng(seed)
        p = rng.uniform(size=400)
        y = rng.integers(0, 2, 400)
        in_sample = brier_score(IsotonicCalibration().fit(p, y).transform(p), y)
        out_of_fold = brier_score(cross_val_calibrate(p, y, "isotonic"), y)
        assert in_sample < 0.25 < out_of_fold


def test_save_and_load_round_trip_with_provenance(tmp_path: Path) -> None:
    p, y = sample(500, seed=10, sharpen=2.0)
    for method in ("temperature", "platt", "isotonic"):
        calibrator = make_calibrator(method).fit(p, y, source="unit test")
        path = tmp_path / f"{method}.json"
        calibrator.save(path)
        data = json.loads(path.read_text())
        assert data["format"] == "swerm-calibrator" and data["format_version"] == 1
        assert data["fitted_on"]["n"] == 500 and data["fitted_on"]["n_resolved"] == int(y.sum())
        assert data["fitted_on"]["source"] == "unit test"
        loaded = load_calibrator(path)
        assert type(loaded) is type(calibrator)
        np.testing.assert_allclose(loaded.transform(p), calibrator.transform(p))


def test_auto_saves_the_chosen_calibrator_with_the_comparison(tmp_path: Path) -> None:
    p, y = sample(600, seed=11, sharpen=2.0)
    auto = AutoCalibrator().fit(p, y)
    auto.save(tmp_path / "auto.json")
    loaded = load_calibrator(tmp_path / "auto.json")
    assert loaded.method == auto.method_
    assert set(loaded.fitted_on_["selected_by"]["cv_log_loss"]) == {
        "temperature",
        "platt",
        "isotonic",
    }


def test_load_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    p, y = sample(400, seed=12, sharpen=2.0)
    path = tmp_path / "cal.json"
    TemperatureScaling().fit(p, y).save(path)
    first = load_calibrator(path)
    assert load_calibrator(path) is first
    PlattScaling().fit(p, y).save(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert isinstance(load_calibrator(path), PlattScaling)


def test_calibrate_hook_uses_the_configured_file(tmp_path: Path) -> None:
    p, y = sample(1000, seed=13, sharpen=3.0)
    path = tmp_path / "cal.json"
    calibrator = TemperatureScaling().fit(p, y)
    calibrator.save(path)
    value = swerm_calibrate(Score(raw=0.95), SwermConfig(calibrator=str(path)))
    assert value == pytest.approx(float(calibrator.transform([0.95])[0]))
    assert value < 0.95  # an over-confident verifier's 0.95 means less


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"method": "platt"}', "not a swerm calibrator file"),
        ('{"format": "swerm-calibrator", "format_version": 9}', "format version 9"),
        (
            '{"format": "swerm-calibrator", "format_version": 1, "method": "magic"}',
            "unknown method 'magic'",
        ),
        (
            '{"format": "swerm-calibrator", "format_version": 1, "method": "platt", '
            '"state": {"slope_": 1}}',
            "state lacks intercept_",
        ),
    ],
)
def test_bad_calibrator_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CalibrationError, match=message) as info:
        load_calibrator(path)
    assert "bad.json" in str(info.value)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="swerm calibrate"):
        load_calibrator(tmp_path / "absent.json")


def test_contract_errors() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        TemperatureScaling().transform([0.5])
    with pytest.raises(CalibrationError, match="all 3 labels are resolved"):
        PlattScaling().fit([0.1, 0.5, 0.9], [1, 1, 1])
    with pytest.raises(CalibrationError, match="unknown calibration method 'beta'"):
        make_calibrator("beta")
    with pytest.raises(CalibrationError, match="at least 2 resolved and 2 unresolved"):
        cross_val_calibrate([0.1, 0.2, 0.9], [0, 0, 1])
