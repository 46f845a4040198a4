"""tune/optuna_store.py: the one module that opens a study's Optuna storage."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from tune import optuna_store
from tune.spec import StudySpec
from tune.study import Study

JOURNAL, SQLITE = StudySpec("s", optuna_backend="journal"), StudySpec("s", optuna_backend="sqlite")


def record_trials(storage: optuna.storages.BaseStorage) -> None:
    """Three told trials linked to Tune trials a, b, c, and one asked and never told."""
    stored = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    for trial_id, state in (("a", TrialState.COMPLETE), ("b", TrialState.PRUNED), ("c", TrialState.PRUNED)):
        trial = stored.ask()
        trial.set_user_attr(optuna_store.RAY_TRIAL_ID, trial_id)
        stored.tell(trial, 0.5 if state == TrialState.COMPLETE else None, state=state)
    stored.ask()


@pytest.mark.parametrize("spec, file", [(JOURNAL, "optuna.journal"), (SQLITE, "optuna.db")])
def test_reading_a_study_without_its_file_creates_none(tmp_path, spec, file):
    study = Study(str(tmp_path), "s")
    study.create()
    with pytest.raises(FileNotFoundError, match=f"no {file}"):
        optuna_store.load(study, spec)
    assert optuna_store.trial_states(study, spec) == {} and optuna_store.state_counts(study, spec) == {}
    assert list((tmp_path / "s").iterdir()) == []


@pytest.mark.parametrize("spec", [JOURNAL, SQLITE], ids=["journal", "sqlite"])
def test_trial_states_and_counts_by_tune_trial(tmp_path, spec):
    study = Study(str(tmp_path), "s")
    study.create()
    record_trials(optuna_store.storage(study, spec))
    assert optuna_store.trial_states(study, spec) == {"a": (0, "COMPLETE"), "b": (1, "PRUNED"), "c": (2, "PRUNED")}
    assert optuna_store.state_counts(study, spec) == {"COMPLETE": 1, "PRUNED": 2, "RUNNING": 1}
    assert optuna_store.load(Study(str(tmp_path), "s"), spec).study_name == "s"


def test_a_new_study_is_a_journal_file_and_an_old_one_stays_sqlite(tmp_path):
    study = Study(str(tmp_path), "s")
    study.create()
    record_trials(optuna_store.storage(study, JOURNAL))
    assert sorted(path.name for path in (tmp_path / "s").iterdir()) == ["optuna.journal"]
    assert optuna_store.location(study, JOURNAL) == str(tmp_path / "s" / "optuna.journal")
    # optuna-dashboard and Optuna itself read the journal without us
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "s" / "optuna.journal")))
    assert len(optuna.load_study(study_name="s", storage=journal).trials) == 4

    assert optuna_store.location(study, SQLITE) == f"sqlite:///{tmp_path / 's' / 'optuna.db'}"
    assert optuna_store.trial_states(study, SQLITE) == {}  # an old study reads optuna.db, never the journal


def test_a_database_url_wins_and_a_uri_study_keeps_optuna_in_memory(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert optuna_store.location(Study(str(tmp_path), "s"), StudySpec("s", optuna_storage=url)) == url
    assert optuna_store.location(Study("s3://bucket/studies", "s"), JOURNAL) is None
    assert optuna_store.storage(Study("s3://bucket/studies", "s"), JOURNAL) is None
