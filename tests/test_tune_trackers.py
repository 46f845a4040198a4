"""--log-to: Ray Tune's MLflow and W&B logger callbacks, optional extras refused in one line when missing.

The MLflow study needs the ``mlflow`` extra, which the ``test`` extra leaves out (CI installs
from nothing in a tight time budget): it is skipped where MLflow is not installed.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from tune import trackers
from tune.cli import main
from tune.spec import TRACKERS
from tune.study import Study
from tune.testing import FAST_SPACE_TOML, free_port, results, trial_dirs


def test_every_tracker_names_its_package():
    assert set(trackers.PACKAGES) == set(TRACKERS)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_missing_tracker_package_is_one_line_naming_the_extra(tracker, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(trackers.PACKAGES, tracker, "no_such_tracker_package")
    code = main(["run", "--data", "builtin:tiny", "--log-to", tracker, "--storage", str(tmp_path), "--name", "s"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and line.startswith("track2vec-tune: error: --log-to ")
    assert f"pip install 'track2vec-tune[{tracker}]'" in line
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_an_unknown_tracker_is_refused(tmp_path, capsys):
    assert main(["run", "--log-to", "neptune", "--storage", str(tmp_path)]) == 2
    assert "--log-to" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_mlflow_records_one_value_per_trial_per_epoch(tmp_path, monkeypatch, no_ray_left):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file://{tmp_path / 'mlruns'}")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this switch
    monkeypatch.setenv("RAY_ADDRESS", "")
    config = tmp_path / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    storage = tmp_path / "studies"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", "2", "--max-epochs", "2",
                     "--log-to", "mlflow", "--storage", str(storage), "--name", "tracked",
                     "--dashboard-port", str(free_port())])
    assert code == 0, out.getvalue()
    assert Study(str(storage), "tracked").load_spec().log_to == ("mlflow",)

    client = mlflow.tracking.MlflowClient(f"file://{tmp_path / 'mlruns'}")
    experiment = client.get_experiment_by_name("tracked")
    runs = {run.data.tags["trial_name"]: run for run in client.search_runs([experiment.experiment_id])}
    dirs = trial_dirs(storage / "tracked")
    assert set(runs) == {f"trial_{trial}" for trial in dirs}
    for trial, path in dirs.items():
        reported = results(path)
        history = client.get_metric_history(runs[f"trial_{trial}"].info.run_id, "val_ndcg_at_10")
        # one value per epoch, each the epoch's reported value, in order
        history = sorted(history, key=lambda metric: metric.step)
        assert [metric.step for metric in history] == [result["training_iteration"] for result in reported]
        assert [metric.value for metric in history] == pytest.approx([result["val_ndcg_at_10"] for result in reported])
        assert [result["epoch"] for result in reported] == list(range(1, len(reported) + 1))
        assert json.loads(json.dumps(runs[f"trial_{trial}"].data.params))["dim"] == str(reported[0]["config"]["dim"])
