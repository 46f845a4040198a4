"""OptunaSearch that tells Optuna the truth about early-stopped trials.

Ray's ``OptunaSearch`` reports a trial that ASHA stopped as COMPLETE with its last
value, so TPE treats a half-trained model as a finished one. Here a trial that ended
without error before ``max_epochs`` is told as PRUNED (Optuna then records its last
intermediate value, and TPE ranks it below complete trials), one that reached
``max_epochs`` as COMPLETE with the best validation NDCG@10 it reached (the value of
the embeddings that would be exported), and an errored one as FAIL. The decision
depends only on the final result, so it survives ``Tuner.restore``.

Under a cost budget (``tune/cost.py``) every finished trial carries its constraint values (its
excess over each limit) through Optuna's ``Trial.set_constraint``: TPE then models the trials
that met the budget as the good ones, and Optuna's ``best_trial`` is the best of them.

Intermediate values are reported per epoch (``step = epoch``, not Tune's iteration
counter), so they stay correct across checkpoint restores.

Optuna's storage (SQLite) is written at once, whereas Ray snapshots its experiment
state every few seconds; after a driver is killed the two can disagree. On restore
this searcher tells FAIL for Optuna trials Tune never recorded (asked after the last
snapshot), ignores results for trials Optuna already finished, and reports those
trials so that the scheduler does not run them again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import optuna
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from tune.adapters import optuna_search
from tune.cost import Budget
from tune.optuna_store import RAY_TRIAL_ID

logger = logging.getLogger(__name__)


class PruningOptunaSearch(OptunaSearch):
    """OptunaSearch with PRUNED for early-stopped trials and epoch-indexed intermediate values."""

    def __init__(
        self,
        space: dict[str, optuna.distributions.BaseDistribution],
        *,
        metric: str,
        objective: str,
        step_attr: str,
        max_steps: int,
        sampler: optuna.samplers.BaseSampler,
        study_name: str,
        storage: optuna.storages.BaseStorage | None,
        budget: Budget | None = None,
        points_to_evaluate: list[dict] | None = None,
        trial_config: Callable[[dict], dict] | None = None,
    ) -> None:
        super().__init__(space=space, metric=metric, mode="max", sampler=sampler,
                         study_name=study_name, storage=storage)
        # points_to_evaluate: configurations Optuna runs first (a warm start). Enqueued here rather
        # than by OptunaSearch, which enqueues them again whenever it opens an existing study (a
        # study restarted before Ray saved its state); skip_if_exists leaves a point already
        # enqueued or run alone.
        for point in points_to_evaluate or ():
            self.study.enqueue_trial(dict(point), skip_if_exists=True)
        self._budget = budget or Budget()
        # turns Optuna's sample into the trial's hyperparameters (SearchSpace.trial_config: the learning rate)
        self._trial_config = trial_config
        self._objective = objective
        self._step_attr = step_attr
        self._max_steps = max_steps

    @property
    def study(self) -> optuna.Study:
        return optuna_search.optuna_study(self)

    def suggest(self, trial_id: str) -> dict | None:
        trials = optuna_search.optuna_trials(self)
        new = trial_id not in trials
        config = super().suggest(trial_id)
        if new and trial_id in trials:
            trials[trial_id].set_user_attr(RAY_TRIAL_ID, trial_id)
        trial_config = getattr(self, "_trial_config", None)  # None in a searcher pickled before it existed
        if isinstance(config, dict) and trial_config is not None:
            config = trial_config(config)
        return config

    def _report(self, trial_id: str, result: dict | None) -> bool:
        """Report ``result``'s metric at its epoch; False if Optuna already finished the trial."""
        ot_trial = optuna_search.optuna_trials(self)[trial_id]
        frozen = optuna_search.stored_trial(self.study, ot_trial)
        if frozen.state.is_finished():
            return False
        if not result or self._step_attr not in result or self.metric not in result:
            return True
        value, step = result[self.metric], int(result[self._step_attr])
        # A trial restored from an older checkpoint repeats steps: keep the first value.
        if value is not None and math.isfinite(value) and step not in frozen.intermediate_values:
            ot_trial.report(float(value), step)
        return True

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in optuna_search.completed(self) or trial_id not in optuna_search.optuna_trials(self):
            return
        self._report(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in optuna_search.completed(self) or trial_id not in optuna_search.optuna_trials(self):
            return
        optuna_search.completed(self).add(trial_id)
        ot_trial = optuna_search.optuna_trials(self)[trial_id]
        # Tune does not pass the result that made the scheduler stop a trial to
        # on_trial_result: report it here, or Optuna's last value would be an epoch early.
        if not self._report(trial_id, result):
            return  # already finished in Optuna's storage (a restored, killed study)
        value = (result or {}).get(self._objective)
        steps = (result or {}).get(self._step_attr, 0) or 0
        budget = getattr(self, "_budget", None)  # None in a searcher pickled before budgets existed
        if budget is not None and budget.active and result:
            for key, value in budget.named_constraints(result).items():
                ot_trial.set_constraint(key, value)
        if error:
            state, value = TrialState.FAIL, None
        elif value is None or not math.isfinite(value):
            state, value = (TrialState.PRUNED if steps else TrialState.FAIL), None
        elif steps < self._max_steps:
            state, value = TrialState.PRUNED, None  # Optuna keeps its last intermediate value
        else:
            state = TrialState.COMPLETE
        try:
            self.study.tell(ot_trial, value, state=state, skip_if_finished=True)
        except Exception as exc:  # a broken storage must not take the whole study down
            logger.warning("could not tell Optuna trial %s: %s", ot_trial.number, exc)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        known = {ot_trial.number for ot_trial in optuna_search.optuna_trials(self).values()}
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.number not in known:
                logger.info("Optuna trial %s was never recorded by Tune; marking it FAIL", frozen.number)
                self.study.tell(frozen.number, state=TrialState.FAIL, skip_if_finished=True)

    def finished_trial_ids(self) -> set[str]:
        """Tune trial ids whose Optuna trial is COMPLETE or PRUNED (never to be run again)."""
        done = (TrialState.COMPLETE, TrialState.PRUNED)
        return {
            frozen.user_attrs[RAY_TRIAL_ID]
            for frozen in self.study.get_trials(deepcopy=False, states=done)
            if RAY_TRIAL_ID in frozen.user_attrs
        }

    def intermediate_values(self) -> dict[str, dict[int, float]]:
        """Per Tune trial id, the metric at each reported epoch (to rebuild ASHA's rungs)."""
        return {
            frozen.user_attrs[RAY_TRIAL_ID]: dict(frozen.intermediate_values)
            for frozen in self.study.get_trials(deepcopy=False)
            if RAY_TRIAL_ID in frozen.user_attrs
        }


def make_sampler(seed: int, n_trials: int) -> optuna.samplers.TPESampler:
    """Seeded TPE; random start scaled to the study, constant liar for parallel trials (it reads the
    constraint values of a budget from the trials themselves)."""
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=min(10, max(3, n_trials // 3)), constant_liar=True,
    )
