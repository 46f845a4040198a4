"""tune/reader.py: a study read back into typed rows, also when Ray's saved state is damaged."""

from __future__ import annotations

import json

from tune.reader import RUNNING, read_curve, read_rows, status_counts
from tune.spec import StudySpec
from tune.study import Study


def test_rows_from_the_trial_directories_when_rays_state_is_unreadable(tmp_path):
    """Ray's state cut in half (a full disk): the trials are read from their own files, and an id
    that looks like a number ("53433e27" is not 5.3e31) stays the trial's id."""
    study = Study(str(tmp_path), "s")
    spec = StudySpec(name="s", trials=3, max_epochs=4)
    study.create()
    study.save_spec(spec)
    (tmp_path / "s" / "experiment_state-2025.json").write_text('{"trial_data": [')
    trial = tmp_path / "s" / "trial_53433e27"
    trial.mkdir()
    (trial / "params.json").write_text(json.dumps({"dim": 16, "window": 3}))
    reports = [{"epoch": 1, "val_ndcg_at_10": 0.1, "best_val_ndcg_at_10": 0.1, "best_epoch": 1},
               {"epoch": 2, "val_ndcg_at_10": 0.2, "best_val_ndcg_at_10": 0.2, "best_epoch": 2}]
    (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in reports) + '{"epoch": 3, "val_')

    (row,) = read_rows(study, spec)
    assert row.trial_id == "53433e27" and row.status == RUNNING and not row.finished_in_ray
    assert (row.epochs, row.best_val_ndcg, row.best_epoch, row.last_val_ndcg) == (2, 0.2, 2, 0.2)
    assert row.params["dim"] == 16 and row.params["learning_rate"] is None
    assert read_curve(study, "53433e27") == [(1, 0.1), (2, 0.2)]
    assert status_counts([row], spec.trials) == {"completed": 0, "stopped early": 0, "errored": 0, "running": 1,
                                                  "not started": 2}


def test_a_study_before_ray_wrote_anything_has_no_rows(tmp_path):
    study = Study(str(tmp_path), "s")
    study.create()
    assert read_rows(study, StudySpec(name="s")) == []
    assert read_curve(study, "nope") == []
