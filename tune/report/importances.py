"""The report's hyperparameter importances: Optuna's fANOVA evaluator on two bases (a data step)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tune import optuna_store
from tune.report.data import ReportData
from tune.study import Study

COMPLETED, FIRST_RUNG = "completed", "first rung"


@dataclass
class Importances:
    """Optuna's importances on one basis, or why they could not be computed."""

    basis: str  # COMPLETED or FIRST_RUNG
    description: str  # what the objective is, for legends and the page
    trials: int  # trials the evaluator saw
    values: dict[str, float] | None = None  # hyperparameter -> importance (sums to 1)
    reason: str | None = None  # set when values is None


def param_importances(data: ReportData) -> list[Importances]:
    """Optuna's fANOVA importances (``get_param_importances``, seed 0) on two bases:

    * ``completed``: the Optuna study as stored, i.e. completed trials with their best
      validation NDCG@10 (Optuna's own default; ASHA leaves few such trials);
    * ``first rung``: every trial with a result at ASHA's first rung (the grace period), with
      its validation NDCG@10 at that epoch, the value ASHA compares, so stopped trials count.

    Never raises: a basis that cannot be computed carries the reason instead.
    """
    grace = data.spec.grace_period
    descriptions = {COMPLETED: "completed trials: best validation NDCG@10 (Optuna objective)",
                    FIRST_RUNG: f"all trials: validation NDCG@10 at epoch {grace} (ASHA's first rung)"}
    try:
        study = optuna_store.load(Study(str(data.study_dir.parent), data.study_dir.name), data.spec)
    except Exception as error:  # missing, locked or unreadable database
        reason = f"the Optuna study could not be read ({_one_line(error)})"
        return [Importances(basis, text, 0, reason=reason) for basis, text in descriptions.items()]
    return [_importances(COMPLETED, descriptions[COMPLETED], study),
            _importances(FIRST_RUNG, descriptions[FIRST_RUNG], _first_rung_study(study, grace))]


def _first_rung_study(study, epoch: int):
    """An in-memory copy of ``study`` whose trials' values are their validation NDCG@10 at ``epoch``."""
    import optuna

    copy = optuna.create_study(direction="maximize")
    for frozen in study.get_trials(deepcopy=False):
        value = frozen.intermediate_values.get(epoch)
        if value is None or not math.isfinite(value) or not frozen.params:
            continue
        copy.add_trial(optuna.trial.create_trial(params=frozen.params, distributions=frozen.distributions,
                                                 value=value, state=optuna.trial.TrialState.COMPLETE))
    return copy


def _importances(basis: str, description: str, study) -> Importances:
    import optuna
    from optuna.trial import TrialState

    count = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    result = Importances(basis, description, count)
    if count < 2:
        result.reason = f"needs at least 2 trials, the study has {count}"
        return result
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except Exception as error:  # e.g. no hyperparameter varies across the trials
        result.reason = f"Optuna could not compute them from {count} trials ({_one_line(error)})"
        return result
    if not values:
        result.reason = f"no hyperparameter varies across the {count} trials"
    else:
        result.values = dict(values)
    return result


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
