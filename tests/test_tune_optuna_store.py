"""tune/optuna_store.py: the one module that opens a study's Optuna storage."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from tune import optuna_store
from tune.study import Study


def test_reading_a_study_without_its_database_creates_none(tmp_path):
    study = Study(str(tmp_path), "s")
    study.create()
    with pytest.raises(FileNotFoundError, match="no optuna.db"):
        optuna_store.load(study)
    assert optuna_store.trial_states(study) == {} and optuna_store.state_counts(study) == {}
    assert not (tmp_path / "s" / "optuna.db").exists()


def test_trial_states_and_counts_by_tune_trial(tmp_path):
    study = Study(str(tmp_path), "s")
    study.create()
    stored = optuna.create_study(study_name="s", storage=optuna_store.storage(study), direction="maximize")
    for trial_id, state in (("a", TrialState.COMPLETE), ("b", TrialState.PRUNED), ("c", TrialState.PRUNED)):
        trial = stored.ask()
        trial.set_user_attr(optuna_store.RAY_TRIAL_ID, trial_id)
        stored.tell(trial, 0.5 if state == TrialState.COMPLETE else None, state=state)
    stored.ask()  # asked, never told, and never linked to a Tune trial
    assert optuna_store.trial_states(study) == {"a": (0, "COMPLETE"), "b": (1, "PRUNED"), "c": (2, "PRUNED")}
    assert optuna_store.state_counts(study) == {"COMPLETE": 1, "PRUNED": 2, "RUNNING": 1}
    assert optuna_store.load(Study(str(tmp_path), "s")).study_name == "s"
