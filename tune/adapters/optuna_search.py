"""Ray Tune's ``OptunaSearch`` and the Optuna objects it keeps private.

``tune.searcher.PruningOptunaSearch`` needs the Optuna study and the Tune trial id -> Optuna
trial map that ``OptunaSearch`` holds, the set of trials it has completed, and the stored
state of one Optuna trial (read from the study's storage by the trial's internal id, so one
trial is fetched rather than all).
"""

from __future__ import annotations

import optuna
from ray.tune.search.optuna import OptunaSearch

from tune.adapters import probe


def optuna_study(search: OptunaSearch) -> optuna.Study:
    return search._ot_study


def optuna_trials(search: OptunaSearch) -> dict[str, optuna.Trial]:
    """Tune trial id -> its Optuna trial (live, not a copy)."""
    return search._ot_trials


def completed(search: OptunaSearch) -> set[str]:
    """The Tune trial ids the searcher has completed (live, not a copy)."""
    return search._completed_trials


def stored_trial(study: optuna.Study, trial: optuna.Trial) -> optuna.trial.FrozenTrial:
    """The trial as the study's storage holds it now (state, intermediate values)."""
    return study._storage.get_trial(trial._trial_id)


def missing() -> list[str]:
    """The attributes above that the installed Ray or Optuna no longer has, or has in another shape."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    search = OptunaSearch(space=space, metric="m", mode="max", sampler=optuna.samplers.RandomSampler(seed=0))
    found = probe("OptunaSearch", {
        "_ot_study": lambda: isinstance(search._ot_study, optuna.Study),
        "_ot_trials": lambda: search._ot_trials == {},
        "_completed_trials": lambda: search._completed_trials == set(),
    })
    if found:
        return found
    search.suggest("t")
    trial = search._ot_trials.get("t")
    return probe("optuna", {
        "Trial._trial_id": lambda: isinstance(trial._trial_id, int),
        "Study._storage.get_trial": lambda: search._ot_study._storage.get_trial(trial._trial_id).number
        == trial.number,
    })
