"""Read a study back into typed trial rows: the one reader of a study's trials.

``status``, the evaluation (and so ``export`` and the table) and the report all read the
trials through ``read_rows``. It needs no Ray cluster and works for finished, interrupted
and running studies alike:

* Ray's saved experiment state (``ExperimentAnalysis``) gives each trial's status, config
  and last result; where that state is unreadable (damaged after the fact, or cut off by a kill
  in a study written before ``tune.whole_files``), the trial directories' own ``params.json``
  and ``result.json`` stand in for it;
* the Optuna storage gives each trial's number and final state (``tune.optuna_store``);
* the newest checkpoint on storage can be ahead of Ray's state, which is a periodic
  snapshot: its ``metrics.json`` then wins.

The repeats (``<study>/repeats``, ``tune/repeats.py``) are a Ray experiment of their own, read
the same way by ``read_repeat_rows``: one row per (configuration, seed).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tune import optuna_store
from tune.cost import PEAK_MEMORY_MIB, SECONDS_PER_EPOCH, Budget
from tune.search_space import PARAMS
from tune.spec import StudySpec
from tune.study import Study
from tune.trainable import EPOCHS_KEY, METRIC, METRICS_FILE, OBJECTIVE, SEED_KEY, SOURCE_KEY, TIME_ATTR

COMPLETED, STOPPED, ERRORED, RUNNING = "completed", "stopped early", "errored", "running"
STATUSES = (COMPLETED, STOPPED, ERRORED, RUNNING)
NOT_STARTED = "not started"
RESULT_FILE = "result.json"
_FINISHED_IN_RAY = ("TERMINATED", "ERROR")


@dataclass(frozen=True)
class TrialRow:
    """One trial as the study recorded it: status, hyperparameters and its best and last epoch."""

    trial_id: str
    status: str  # one of STATUSES
    epochs: int
    params: dict[str, Any]
    best_val_ndcg: float | None = None
    best_val_hr: float | None = None
    best_epoch: int | None = None
    best_scoring: str = ""  # how the best epoch ranked candidates (chosen on validation), e.g. "target-context + 1.5 log(count)"
    last_val_ndcg: float | None = None
    last_val_hr: float | None = None
    loss: float | None = None
    accuracy: float | None = None
    pairs_per_second: float | None = None
    wall_seconds: float | None = None
    optuna_number: int | None = None
    optuna_state: str | None = None
    hosts: str = ""  # "host:pid" of the worker that reported last
    ray_status: str = ""  # Ray's word: PENDING, RUNNING, PAUSED, TERMINATED or ERROR
    checkpoint: Any = field(default=None, repr=False, compare=False)  # ray.tune.Checkpoint of the newest epoch
    seed: int | None = None  # a repeat's own seed (a search trial's is the study's)
    source_trial: str | None = None  # a repeat's configuration: the search trial it repeats
    seconds_per_epoch: float | None = None  # its cost (tune/cost.py): training seconds per epoch
    peak_memory_mib: float | None = None  # and peak resident memory
    over_budget: tuple[str, ...] = ()  # the study's budget limits its cost exceeds, in words (none: it meets them)

    @property
    def meets_budget(self) -> bool:
        return not self.over_budget

    @property
    def finished_in_ray(self) -> bool:
        """Whether Ray's saved state has the trial ended (it will not run again on resume)."""
        return self.ray_status in _FINISHED_IN_RAY


def read_rows(study: Study, spec: StudySpec) -> list[TrialRow]:
    """One row per trial that Ray recorded, best validation NDCG@10 first."""
    if not study.has_experiment_state():
        return []
    optuna_states = optuna_store.trial_states(study, spec)
    budget = Budget.of(spec)
    rows = [_row(trial, spec.max_epochs, optuna_states, budget) for trial in _ray_trials(study, optuna_states)]
    return _best_first(rows)


def read_repeat_rows(study: Study) -> list[TrialRow]:
    """One row per repeat (a search trial's configuration trained again with another seed), best
    validation NDCG@10 first, each with its ``seed`` and ``source_trial``; none before any was run."""
    repeats = study.repeats()
    if not repeats.has_experiment_state():
        return []
    rows = []
    for trial in _ray_trials(repeats, {}):
        config = trial.config or {}
        row = _row(trial, int(config.get(EPOCHS_KEY) or 0), {})
        seed = config.get(SEED_KEY)
        rows.append(replace(row, seed=int(seed) if seed is not None else None,
                            source_trial=str(config.get(SOURCE_KEY, "")) or None))
    return _best_first(rows)


def _best_first(rows: list[TrialRow]) -> list[TrialRow]:
    return sorted(rows, key=lambda row: (row.best_val_ndcg is None, -(row.best_val_ndcg or 0.0), row.trial_id))


def status_counts(rows: list[TrialRow], trials: int) -> dict[str, int]:
    """Rows per status, and how many of the study's ``trials`` have not started."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row.status] += 1
    counts[NOT_STARTED] = max(0, trials - len(rows))
    return counts


def read_curve(study: Study, trial_id: str) -> list[tuple[int, float]]:
    """(epoch, validation NDCG@10) of every epoch a trial reported, from its ``result.json``.

    A resumed trial may report an epoch twice: the last report wins.
    """
    by_epoch: dict[int, float] = {}
    fs, root = study.filesystem()
    for result in _read_json_lines(fs, f"{root}/trial_{trial_id}/{RESULT_FILE}"):
        epoch, value = result.get(TIME_ATTR), result.get(METRIC)
        if isinstance(epoch, (int, float)) and isinstance(value, (int, float)) and math.isfinite(value):
            by_epoch[int(epoch)] = float(value)
    return sorted(by_epoch.items())


def read_analysis(study: Study):
    """Ray's view of the study's trials (a trial that never reported has no result file: no warning)."""
    from ray.tune import ExperimentAnalysis

    analysis_logger = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = analysis_logger.level
    analysis_logger.setLevel(logging.ERROR)
    try:
        return ExperimentAnalysis(study.path)
    finally:
        analysis_logger.setLevel(level)


def _row(trial, max_epochs: int, optuna_states: dict[str, tuple[int, str]], budget: Budget = Budget()) -> TrialRow:
    result, checkpoint = trial.last_result or {}, trial.checkpoint
    newest, newest_checkpoint = _newest_checkpoint(trial)
    if newest and (newest.get(TIME_ATTR, 0) > result.get(TIME_ATTR, 0) or checkpoint is None):
        result, checkpoint = newest, newest_checkpoint
    epochs = int(result.get(TIME_ATTR, 0) or 0)
    number, optuna_state = optuna_states.get(trial.trial_id, (None, None))
    return TrialRow(
        trial_id=trial.trial_id,
        status=_status(trial.status, epochs, max_epochs, optuna_state),
        epochs=epochs,
        params={name: trial.config.get(name) for name in PARAMS},
        best_val_ndcg=_number(result.get(OBJECTIVE)),
        best_val_hr=_number(result.get("best_val_hr_at_10")),
        best_epoch=result.get("best_epoch"),
        best_scoring=_scoring(result),
        last_val_ndcg=_number(result.get(METRIC)),
        last_val_hr=_number(result.get("val_hr_at_10")),
        loss=_number(result.get("loss")),
        accuracy=_number(result.get("accuracy")),
        pairs_per_second=_number(result.get("pairs_per_second")),
        wall_seconds=_number(result.get("wall_seconds")),
        optuna_number=number,
        optuna_state=optuna_state,
        hosts=f"{result['hostname']}:{result['pid']}" if "hostname" in result else "",
        ray_status=trial.status,
        checkpoint=checkpoint,
        seconds_per_epoch=_number(result.get(SECONDS_PER_EPOCH)),
        peak_memory_mib=_number(result.get(PEAK_MEMORY_MIB)),
        over_budget=tuple(budget.exceeded(result)),
    )


def _scoring(result: dict) -> str:
    from track2vec.errors import Track2VecError
    from track2vec.scoring import Scoring

    method, weight = result.get("best_scoring"), result.get("best_popularity_weight")
    try:
        return Scoring(method, float(weight)).describe() if method else ""
    except (TypeError, ValueError, Track2VecError):  # an older or damaged result: no scoring to show
        return ""


def _ray_trials(study: Study, optuna_states: dict[str, tuple[int, str]]) -> list:
    """Ray's recorded trials, or, where its saved state is unreadable, the trial directories' own.

    The directories' trials get their status from their Optuna state (``optuna_states``):
    finished or errored, else pending.
    """
    try:
        return read_analysis(study).trials
    except (ValueError, EOFError, OSError) as error:  # JSONDecodeError is a ValueError
        logging.getLogger(__name__).debug("unreadable experiment state of %s: %s", study.path, error)
    import pyarrow.fs

    fs, root = study.filesystem()
    states = {"COMPLETE": "TERMINATED", "PRUNED": "TERMINATED", "FAIL": "ERROR"}
    trials = []
    for info in sorted(fs.get_file_info(pyarrow.fs.FileSelector(root, allow_not_found=True)), key=lambda i: i.path):
        name = Path(info.path).name
        if info.type != pyarrow.fs.FileType.Directory or not name.startswith("trial_"):
            continue
        trial_id = name.removeprefix("trial_")
        config = _read_json_lines(fs, f"{info.path}/params.json", whole=True)
        results = _read_json_lines(fs, f"{info.path}/{RESULT_FILE}")
        state = optuna_states.get(trial_id, (None, None))[1]
        trials.append(_StoredTrial(trial_id, states.get(state, "PENDING"), config[0] if config else {},
                                   results[-1] if results else None, info.path, _StoredStorage(fs)))
    return trials


@dataclass
class _StoredStorage:
    storage_filesystem: Any


@dataclass
class _StoredTrial:
    """What a row needs of a Ray trial, read from its directory."""

    trial_id: str
    status: str
    config: dict
    last_result: dict | None
    path: str
    storage: _StoredStorage
    checkpoint: Any = None


def _read_json_lines(fs, path: str, whole: bool = False) -> list:
    """The JSON values of a file (one per line, or ``whole``); a truncated last line is skipped."""
    try:
        with fs.open_input_stream(path) as stream:
            text = stream.read().decode("utf-8", "replace")
    except OSError:
        return []
    values = []
    for chunk in [text] if whole else text.splitlines():
        try:
            values.append(json.loads(chunk))
        except ValueError:
            continue
    return values


def _newest_checkpoint(trial) -> tuple[dict | None, Any]:
    """The metrics and checkpoint of the trial's newest checkpoint on storage.

    Each checkpoint is written before its epoch is reported, so after a killed driver the
    storage can hold an epoch that Ray's last snapshot never saw.
    """
    import pyarrow.fs
    from ray.tune import Checkpoint

    try:
        filesystem = trial.storage.storage_filesystem
        infos = filesystem.get_file_info(pyarrow.fs.FileSelector(trial.path, allow_not_found=True))
    except Exception:
        return None, None
    directories = sorted(info.path for info in infos
                         if info.type == pyarrow.fs.FileType.Directory and Path(info.path).name.startswith("checkpoint_"))
    for directory in reversed(directories):
        try:
            with filesystem.open_input_stream(f"{directory}/{METRICS_FILE}") as stream:
                metrics = json.loads(stream.read())
        except (OSError, ValueError):
            continue
        return metrics, Checkpoint(directory, filesystem=filesystem)
    return None, None


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _status(tune_status: str, epochs: int, max_epochs: int, optuna_state: str | None) -> str:
    # Optuna's word counts where Ray's snapshot may lag (a killed driver); Optuna's FAIL does
    # not, since an errored trial may have been resumed and finished since.
    if tune_status == "ERROR":
        return ERRORED
    if optuna_state == "COMPLETE":
        return COMPLETED
    if optuna_state == "PRUNED":
        return STOPPED
    if tune_status == "TERMINATED":
        return COMPLETED if epochs >= max_epochs else STOPPED
    return RUNNING  # PENDING, RUNNING or PAUSED when the study was interrupted
