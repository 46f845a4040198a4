"""The study's Optuna storage: the one module that opens it.

Where it is (``location``): the study's ``--optuna-storage`` URL if it has one; else, for a
local study directory, a file there: Optuna's journal ``optuna.journal`` (every new study:
appending to a log file stays safe on NFS and other shared file systems, where SQLite's locks
are not), or SQLite ``optuna.db`` (studies written before the journal, still read and resumed);
for a URI directory, none (the study is kept in memory and saved with Ray's state).

The searcher writes to it during a run (``storage``); ``status``, the study reader, the
report and the tests read it back (``load``, ``trial_states``, ``state_counts``). Each Optuna
trial carries the Tune trial it belongs to in the user attribute ``RAY_TRIAL_ID``.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from tune.spec import StudySpec
from tune.study import OPTUNA_FILE, OPTUNA_JOURNAL, Study

RAY_TRIAL_ID = "ray_trial_id"  # Optuna user attribute: the Tune trial it belongs to
SQLITE_WAIT_SECONDS = 60  # SQLite waits this long for optuna-dashboard's readers instead of failing at once


def location(study: Study, spec: StudySpec) -> str | None:
    """The study's Optuna storage as optuna-dashboard takes it: a database URL or the path of a
    journal file; None for a study kept in memory."""
    if spec.optuna_storage:
        return spec.optuna_storage
    if not study.is_local:
        return None
    if spec.optuna_backend == "sqlite":
        return f"sqlite:///{study.local_path / OPTUNA_FILE}"
    return str(study.local_path / OPTUNA_JOURNAL)


def make_storage(where: str | None) -> optuna.storages.BaseStorage | None:
    """The storage at ``where`` (a URL or a journal file, which is created if missing); None keeps it in memory."""
    if where is None:
        return None
    if where.startswith("sqlite:"):
        return optuna.storages.RDBStorage(where, engine_kwargs={"connect_args": {"timeout": SQLITE_WAIT_SECONDS}})
    if "://" in where:
        return optuna.storages.RDBStorage(where)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(where))


def storage(study: Study, spec: StudySpec) -> optuna.storages.BaseStorage | None:
    """The study's storage for the searcher (see ``location``)."""
    return make_storage(location(study, spec))


def _stored_file(where: str) -> Path | None:
    """The local file that holds the storage at ``where``; None for a database server."""
    if where.startswith("sqlite:///"):
        return Path(where.removeprefix("sqlite:///"))
    return None if "://" in where else Path(where)


def load(study: Study, spec: StudySpec) -> optuna.Study:
    """The stored Optuna study. Raises when there is none (never creates an empty database or journal)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    where = location(study, spec)
    if where is None:
        raise ValueError("the study has no Optuna storage (it was kept in memory with Ray's state)")
    path = _stored_file(where)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"no {path.name} in the study directory")
    return optuna.load_study(study_name=study.name, storage=make_storage(where))


def _load_or_none(study: Study, spec: StudySpec) -> optuna.Study | None:
    try:
        return load(study, spec)
    except Exception:  # not created yet, locked or unreachable: the callers do without
        return None


def trial_states(study: Study, spec: StudySpec) -> dict[str, tuple[int, str]]:
    """Tune trial id -> (Optuna trial number, state name); empty where the storage is unreadable."""
    loaded = _load_or_none(study, spec)
    if loaded is None:
        return {}
    return {frozen.user_attrs[RAY_TRIAL_ID]: (frozen.number, frozen.state.name)
            for frozen in loaded.get_trials(deepcopy=False) if RAY_TRIAL_ID in frozen.user_attrs}


def state_counts(study: Study, spec: StudySpec) -> dict[str, int]:
    """How many Optuna trials are in each state (COMPLETE, PRUNED, ...); empty where unreadable."""
    loaded = _load_or_none(study, spec)
    counts: dict[str, int] = {}
    for frozen in loaded.get_trials(deepcopy=False) if loaded is not None else ():
        counts[frozen.state.name] = counts.get(frozen.state.name, 0) + 1
    return counts
