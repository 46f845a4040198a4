"""``run --warm-start-from STUDY_DIR``: the best configurations of an earlier study, tried first.

They are read once, when the new study starts, and kept in its ``study.json``
(``StudySpec.warm_start_points``); the searcher hands them to Optuna as points to evaluate
(``enqueue_trial``), so the first trials run them and TPE then continues from what they
scored. Only the parameters the new study searches are carried over: a parameter the new
study fixes keeps its fixed value, and a value outside the new study's range is left out,
so Optuna samples that parameter (it would otherwise run the value as given).
"""

from __future__ import annotations

import math
from typing import Any

import optuna.distributions as od

from track2vec.errors import ConfigError

from tune.reader import ERRORED, read_rows
from tune.search_space import LR_AT_REFERENCE, SearchSpace, lr_at_reference_of
from tune.study import Study, resolve_storage


def study_at(directory: str) -> Study:
    """The study whose directory is ``directory`` (a path, made absolute, or a URI)."""
    location = resolve_storage(directory).rstrip("/")
    storage, _, name = location.rpartition("/")
    if not name or not storage:
        raise ConfigError(f"--warm-start-from {directory!r}: expected a study directory")
    return Study(storage, name)


def warm_start_points(directory: str, top: int, space: SearchSpace) -> tuple[str, list[dict[str, Any]]]:
    """(the earlier study's directory, its ``top`` configurations by best validation NDCG@10 among those
    that met its budget, each
    restricted to the parameters ``space`` searches, duplicates dropped). Raises ConfigError when
    there is no study there or it has no scored trial."""
    study = study_at(directory)
    try:
        spec = study.load_spec()
    except ConfigError as error:
        raise ConfigError(f"--warm-start-from {directory}: {error}") from None
    points: list[dict[str, Any]] = []
    for row in read_rows(study, spec):
        if row.status == ERRORED or row.best_val_ndcg is None or not row.meets_budget:
            continue  # a configuration over the earlier study's budget could not win there
        params = _with_rate_per_reference(row.params)
        point = {name: _plain(params[name]) for name, distribution in space.distributions.items()
                 if params.get(name) is not None and _inside(distribution, _plain(params[name]))}
        if point and point not in points:
            points.append(point)
        if len(points) == top:
            break
    if not points:
        raise ConfigError(f"--warm-start-from {study.path}: the study has no trial with a validation score "
                          "(or none of the parameters this study searches)")
    return study.path, points


def _with_rate_per_reference(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the rate per REFERENCE_BATCH pairs that its learning rate and batch size imply, where a study
    that searched ``learning_rate`` itself (one before the square-root rule, or one whose config named it) has none."""
    if params.get(LR_AT_REFERENCE) is not None or params.get("learning_rate") is None or not params.get("batch_size"):
        return params
    return {**params, LR_AT_REFERENCE: lr_at_reference_of(params["learning_rate"], params["batch_size"])}


def _inside(distribution: od.BaseDistribution, value: Any) -> bool:
    if isinstance(distribution, od.CategoricalDistribution):
        return value in distribution.choices
    return isinstance(value, (int, float)) and not isinstance(value, bool) and distribution.low <= value <= distribution.high


def _plain(value: Any) -> Any:
    """A JSON value for study.json: NumPy scalars become Python numbers."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"--warm-start-from: a configuration has the value {value}")
    return value
