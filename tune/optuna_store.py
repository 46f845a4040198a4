"""The study's Optuna storage: the one module that opens it.

The searcher writes to it during a run (``storage``); ``status``, the study reader, the
report and the tests read it back (``load``, ``trial_states``, ``state_counts``). Each Optuna
trial carries the Tune trial it belongs to in the user attribute ``RAY_TRIAL_ID``.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from tune.study import Study

RAY_TRIAL_ID = "ray_trial_id"  # Optuna user attribute: the Tune trial it belongs to
SQLITE_WAIT_SECONDS = 60  # SQLite waits this long for optuna-dashboard's readers instead of failing at once


def make_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """The storage at ``url``; None (no URL) keeps the study in memory."""
    if url is None:
        return None
    if url.startswith("sqlite:"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": SQLITE_WAIT_SECONDS}})
    return optuna.storages.RDBStorage(url)


def storage(study: Study, optuna_storage: str | None = None) -> optuna.storages.BaseStorage | None:
    """The study's storage for the searcher: ``optuna_storage`` (a URL), SQLite in the study directory, or None."""
    return make_storage(study.optuna_url(optuna_storage))


def load(study: Study, optuna_storage: str | None = None) -> optuna.Study:
    """The stored Optuna study. Raises when there is none (never creates an empty database)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = study.optuna_url(optuna_storage)
    if url is None:
        raise ValueError("the study has no Optuna storage (it was kept in memory with Ray's state)")
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(f"no {Path(url.removeprefix('sqlite:///')).name} in the study directory")
    return optuna.load_study(study_name=study.name, storage=make_storage(url))


def _load_or_none(study: Study, optuna_storage: str | None) -> optuna.Study | None:
    try:
        return load(study, optuna_storage)
    except Exception:  # not created yet, locked or unreachable: the callers do without
        return None


def trial_states(study: Study, optuna_storage: str | None = None) -> dict[str, tuple[int, str]]:
    """Tune trial id -> (Optuna trial number, state name); empty where the storage is unreadable."""
    loaded = _load_or_none(study, optuna_storage)
    if loaded is None:
        return {}
    return {frozen.user_attrs[RAY_TRIAL_ID]: (frozen.number, frozen.state.name)
            for frozen in loaded.get_trials(deepcopy=False) if RAY_TRIAL_ID in frozen.user_attrs}


def state_counts(study: Study, optuna_storage: str | None = None) -> dict[str, int]:
    """How many Optuna trials are in each state (COMPLETE, PRUNED, ...); empty where unreadable."""
    loaded = _load_or_none(study, optuna_storage)
    counts: dict[str, int] = {}
    for frozen in loaded.get_trials(deepcopy=False) if loaded is not None else ():
        counts[frozen.state.name] = counts.get(frozen.state.name, 0) + 1
    return counts
