"""The evaluation table of a study and the export of its winner.

Trials are read from Ray's saved experiment state (``ExperimentAnalysis``), so the
table and the export work for finished, interrupted and running studies alike, and
need no Ray cluster. The winner is chosen on validation NDCG@10 only (best epoch of
each trial); its embeddings, from that best epoch, are then scored once on the
held-out test pairs.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from track2vec.corpus import Corpus
from track2vec.errors import DataError, ExportExistsError
from track2vec.evaluation import evaluate, popularity_baseline
from track2vec.export import write_export

from tune.search_space import PARAMS
from tune.spec import StudySpec
from tune.study import Study
from tune.trainable import BEST_EMBEDDINGS_FILE, METRICS_FILE, OBJECTIVE

COMPLETED, STOPPED, ERRORED, RUNNING = "completed", "stopped early", "errored", "running"
TRIALS_CSV, TRIALS_MD = "trials.csv", "trials.md"


@dataclass
class TrialRow:
    trial_id: str
    status: str
    epochs: int
    params: dict[str, Any]
    best_val_ndcg: float | None = None
    best_val_hr: float | None = None
    best_epoch: int | None = None
    last_val_ndcg: float | None = None
    last_val_hr: float | None = None
    loss: float | None = None
    accuracy: float | None = None
    pairs_per_second: float | None = None
    wall_seconds: float | None = None
    optuna_number: int | None = None
    optuna_state: str | None = None
    hosts: str = ""
    checkpoint: Any = field(default=None, repr=False)  # ray.tune.Checkpoint of the latest epoch


@dataclass
class Evaluation:
    """Every trial, best first, and the winner's scores."""

    study: Study
    spec: StudySpec
    rows: list[TrialRow]
    winner: TrialRow | None = None
    winner_embeddings: np.ndarray | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = {COMPLETED: 0, STOPPED: 0, ERRORED: 0, RUNNING: 0}
        for row in self.rows:
            counts[row.status] += 1
        counts["not started"] = max(0, self.spec.trials - len(self.rows))
        return counts


def read_rows(study: Study, spec: StudySpec) -> list[TrialRow]:
    """One row per trial that Ray recorded, sorted by best validation NDCG@10."""
    if not study.has_experiment_state():
        return []
    optuna_states = _optuna_states(study, spec)
    rows = []
    for trial in read_trials(study, optuna_states):
        result, checkpoint = trial.last_result or {}, trial.checkpoint
        newest, newest_checkpoint = _newest_checkpoint(trial)
        if newest and (newest.get("epoch", 0) > result.get("epoch", 0) or checkpoint is None):
            result, checkpoint = newest, newest_checkpoint
        epochs = int(result.get("epoch", 0) or 0)
        number, optuna_state = optuna_states.get(trial.trial_id, (None, None))
        row = TrialRow(
            trial_id=trial.trial_id,
            status=_status(trial.status, epochs, spec.max_epochs, optuna_state),
            epochs=epochs,
            params={name: trial.config.get(name) for name in PARAMS},
            best_val_ndcg=_number(result.get(OBJECTIVE)),
            best_val_hr=_number(result.get("best_val_hr_at_10")),
            best_epoch=result.get("best_epoch"),
            last_val_ndcg=_number(result.get("val_ndcg_at_10")),
            last_val_hr=_number(result.get("val_hr_at_10")),
            loss=_number(result.get("loss")),
            accuracy=_number(result.get("accuracy")),
            pairs_per_second=_number(result.get("pairs_per_second")),
            wall_seconds=_number(result.get("wall_seconds")),
            optuna_number=number,
            optuna_state=optuna_state,
            hosts=f"{result['hostname']}:{result['pid']}" if "hostname" in result else "",
            checkpoint=checkpoint,
        )
        rows.append(row)
    rows.sort(key=lambda row: (row.best_val_ndcg is None, -(row.best_val_ndcg or 0.0), row.trial_id))
    return rows


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


def read_trials(study: Study, optuna_states: dict[str, tuple[int, str]] | None = None) -> list:
    """Ray's recorded trials, or, where its saved state is unreadable, the trial directories' own.

    Ray rewrites its experiment state in place: a full disk or a kill in the middle leaves
    it truncated. The trials are then rebuilt from ``params.json``, ``result.json`` and the
    checkpoints' metrics, with their Optuna states (``optuna_states``) for finished or errored.
    """
    try:
        return read_analysis(study).trials
    except (ValueError, EOFError, OSError) as error:  # JSONDecodeError is a ValueError
        logging.getLogger(__name__).debug("unreadable experiment state of %s: %s", study.path, error)
    import pyarrow.fs

    fs, root = study._fs()
    states = {"COMPLETE": "TERMINATED", "PRUNED": "TERMINATED", "FAIL": "ERROR"}
    trials = []
    for info in sorted(fs.get_file_info(pyarrow.fs.FileSelector(root, allow_not_found=True)), key=lambda i: i.path):
        name = Path(info.path).name
        if info.type != pyarrow.fs.FileType.Directory or not name.startswith("trial_"):
            continue
        trial_id = name.removeprefix("trial_")
        config = _read_json_lines(fs, f"{info.path}/params.json", whole=True)
        results = _read_json_lines(fs, f"{info.path}/result.json")
        state = (optuna_states or {}).get(trial_id, (None, None))[1]
        trials.append(_StoredTrial(trial_id, states.get(state, "PENDING"), config[0] if config else {},
                                   results[-1] if results else None, info.path, _StoredStorage(fs)))
    return trials


@dataclass
class _StoredStorage:
    storage_filesystem: Any


@dataclass
class _StoredTrial:
    """What the table needs of a Ray trial, read from its directory."""

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

    Ray's experiment state is a snapshot taken every few seconds, while each checkpoint
    is written before its epoch is reported: after a killed driver, the storage can hold
    an epoch the snapshot never saw.
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


def _optuna_states(study: Study, spec: StudySpec) -> dict[str, tuple[int, str]]:
    from tune import optuna_store

    return optuna_store.trial_states(study, spec.optuna_storage)


def evaluate_study(study: Study, spec: StudySpec, corpus: Corpus | None) -> Evaluation:
    """Rows of every trial; with a corpus, the winner's test scores and the baselines too."""
    evaluation = Evaluation(study, spec, read_rows(study, spec))
    if corpus is None:
        return evaluation
    k = 10
    for split, pairs in (("val", corpus.validation_pairs), ("test", corpus.test_pairs)):
        if len(pairs):
            baseline = popularity_baseline(corpus.counts, pairs, k)
            evaluation.scores[f"popularity_{split}_ndcg_at_10"] = baseline.ndcg
            evaluation.scores[f"popularity_{split}_hr_at_10"] = baseline.hit_rate
    if corpus.oracle:
        evaluation.scores["oracle_ndcg_at_10"] = corpus.oracle["ndcg_at_10"]
        evaluation.scores["oracle_hr_at_10"] = corpus.oracle["hr_at_10"]
    for row in evaluation.rows:  # best first
        if row.status == ERRORED or row.best_val_ndcg is None or row.checkpoint is None:
            continue
        embeddings = _best_embeddings(row)
        if embeddings is None:
            continue
        evaluation.winner, evaluation.winner_embeddings = row, embeddings
        validation = evaluate(embeddings, corpus.validation_pairs, k)
        evaluation.scores["winner_val_ndcg_at_10"] = validation.ndcg
        evaluation.scores["winner_val_hr_at_10"] = validation.hit_rate
        if len(corpus.test_pairs):
            test = evaluate(embeddings, corpus.test_pairs, k)
            evaluation.scores["winner_test_ndcg_at_10"] = test.ndcg
            evaluation.scores["winner_test_hr_at_10"] = test.hit_rate
        break
    return evaluation


def _best_embeddings(row: TrialRow) -> np.ndarray | None:
    try:
        with row.checkpoint.as_directory() as directory:
            return np.load(Path(directory) / BEST_EMBEDDINGS_FILE, allow_pickle=False)
    except (OSError, ValueError, FileNotFoundError):
        return None


# ---------------------------------------------------------------------------------------
# Rendering

_COLUMNS = [  # (csv name, markdown header)
    ("trial_id", "trial"), ("optuna_trial", "optuna #"), ("status", "status"), ("epochs", "epochs"),
    *[(name, name) for name in PARAMS],
    ("best_val_ndcg_at_10", "best val NDCG@10"), ("best_epoch", "best epoch"),
    ("best_val_hr_at_10", "best val HR@10"), ("last_val_ndcg_at_10", "last val NDCG@10"),
    ("last_val_hr_at_10", "last val HR@10"), ("loss", "loss"), ("accuracy", "accuracy"),
    ("pairs_per_second", "pairs/s"), ("wall_seconds", "wall s"), ("host_pid", "host:pid"),
    ("test_ndcg_at_10", "test NDCG@10"), ("test_hr_at_10", "test HR@10"),
]


def _values(row: TrialRow, evaluation: Evaluation) -> dict[str, Any]:
    is_winner = evaluation.winner is row
    return {
        "trial_id": row.trial_id, "optuna_trial": row.optuna_number, "status": row.status, "epochs": row.epochs,
        **row.params,
        "best_val_ndcg_at_10": row.best_val_ndcg, "best_epoch": row.best_epoch, "best_val_hr_at_10": row.best_val_hr,
        "last_val_ndcg_at_10": row.last_val_ndcg, "last_val_hr_at_10": row.last_val_hr,
        "loss": row.loss, "accuracy": row.accuracy, "pairs_per_second": row.pairs_per_second,
        "wall_seconds": row.wall_seconds, "host_pid": row.hosts,
        "test_ndcg_at_10": evaluation.scores.get("winner_test_ndcg_at_10") if is_winner else None,
        "test_hr_at_10": evaluation.scores.get("winner_test_hr_at_10") if is_winner else None,
    }


def to_csv(evaluation: Evaluation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in _COLUMNS])
    for row in evaluation.rows:
        values = _values(row, evaluation)
        writer.writerow(["" if values[name] is None else values[name] for name, _ in _COLUMNS])
    return out.getvalue()


def format_cell(name: str, value: Any) -> str:
    """A table cell: hyperparameters and metrics each in their own number format."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        if name in ("subsample", "learning_rate"):
            return f"{value:.2e}"
        if name == "pairs_per_second":
            return f"{value:,.0f}"
        if name in ("wall_seconds", "alpha"):
            return f"{value:.2f}" if name == "alpha" else f"{value:.1f}"
        return f"{value:.4f}"
    return str(value)


def to_markdown(evaluation: Evaluation, limit: int | None = None, compact: bool = False) -> str:
    """The table in Markdown; ``compact`` keeps the columns that fit a terminal."""
    columns = _COLUMNS
    if compact:
        keep = {"trial_id", "status", "epochs", "architecture", "dim", "window", "negatives", "batch_size",
                "alpha", "subsample", "learning_rate", "best_val_ndcg_at_10", "best_val_hr_at_10",
                "last_val_ndcg_at_10", "wall_seconds"}
        columns = [column for column in _COLUMNS if column[0] in keep]
    lines = ["| " + " | ".join(header for _, header in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in evaluation.rows[:limit]:
        values = _values(row, evaluation)
        mark = " ★" if evaluation.winner is row else ""
        cells = [format_cell(name, values[name]) + (mark if name == "trial_id" else "") for name, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_lines(evaluation: Evaluation) -> list[str]:
    spec, scores, counts = evaluation.spec, evaluation.scores, evaluation.counts()
    lines = [
        f"Study {evaluation.study.name!r}: {len(evaluation.rows)} of {spec.trials} trials "
        f"({counts[COMPLETED]} completed, {counts[STOPPED]} stopped early by ASHA, {counts[ERRORED]} errored, "
        f"{counts[RUNNING]} running/unfinished); max {spec.max_epochs} epochs, data {spec.data}.",
    ]
    winner = evaluation.winner
    if winner is None:
        lines.append("No trial has finished an epoch yet: nothing to export.")
        return lines
    lines.append(
        f"Winner (chosen on validation only): trial {winner.trial_id}, best validation NDCG@10 "
        f"{winner.best_val_ndcg:.4f} / HR@10 {winner.best_val_hr:.4f} at epoch {winner.best_epoch} of {winner.epochs}."
    )
    if "winner_test_ndcg_at_10" in scores:
        lines.append(f"Winner on the held-out test pairs (scored once): NDCG@10 {scores['winner_test_ndcg_at_10']:.4f}, "
                     f"HR@10 {scores['winner_test_hr_at_10']:.4f}.")
    if "popularity_val_ndcg_at_10" in scores:
        test = (f"; test NDCG@10 {scores['popularity_test_ndcg_at_10']:.4f}, HR@10 {scores['popularity_test_hr_at_10']:.4f}"
                if "popularity_test_ndcg_at_10" in scores else "")
        lines.append(f"Popularity baseline: validation NDCG@10 {scores['popularity_val_ndcg_at_10']:.4f}, "
                     f"HR@10 {scores['popularity_val_hr_at_10']:.4f}{test}.")
    if "oracle_ndcg_at_10" in scores:
        lines.append(f"Generator oracle (best possible on this synthetic data): NDCG@10 {scores['oracle_ndcg_at_10']:.4f}, "
                     f"HR@10 {scores['oracle_hr_at_10']:.4f}.")
    return lines


# ---------------------------------------------------------------------------------------
# Export


def export_study(evaluation: Evaluation, corpus: Corpus, force: bool = False) -> str:
    """Write the winner (write_export) and the tables into ``<study>/export``; returns its path."""
    study, spec = evaluation.study, evaluation.spec
    if evaluation.winner is None:
        raise DataError(f"study {study.name!r} has no trial with a finished epoch yet: nothing to export")
    winner = evaluation.winner
    info = {
        "study": study.name,
        "trial_id": winner.trial_id,
        "optuna_trial": winner.optuna_number,
        "hyperparameters": {**winner.params, "epochs": winner.best_epoch, "seed": spec.seed},
        "best_epoch": winner.best_epoch,
        "epochs_run": winner.epochs,
        "seed": spec.seed,
        "min_count": spec.min_count,
        "data": {"source": spec.data, "fingerprint": corpus.fingerprint, "stats": corpus.stats},
        "metrics": evaluation.scores,
        "selection": "highest validation NDCG@10 of any epoch of any trial; test scored once afterwards",
    }
    tables = {TRIALS_CSV: to_csv(evaluation),
              TRIALS_MD: "\n\n".join(["# " + summary_lines(evaluation)[0], *summary_lines(evaluation)[1:],
                                      to_markdown(evaluation)]) + "\n"}
    if study.is_local:  # the tables go into the same atomic replacement as the winner
        target = write_export(Path(study.export_path), evaluation.winner_embeddings, corpus.vocabulary, info,
                              force=force, extra_files=tables)
        return str(target)
    # Remote storage: write locally, then copy into the study directory.
    import pyarrow.fs

    if study.exists() and not force and study.has_file("export/model.json"):
        raise ExportExistsError(f"{study.export_path} already exists; pass --force to replace it")
    staging = Path(tempfile.mkdtemp(prefix="track2vec-export-"))
    try:
        write_export(staging / "export", evaluation.winner_embeddings, corpus.vocabulary, info)
        for name, text in tables.items():
            (staging / "export" / name).write_text(text)
        pyarrow.fs.copy_files(str(staging / "export"), study.export_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return study.export_path


def status_report(evaluation: Evaluation) -> dict[str, Any]:
    """A JSON-able summary for ``status --json``."""
    counts = evaluation.counts()
    best = evaluation.rows[0] if evaluation.rows and evaluation.rows[0].best_val_ndcg is not None else None
    return {
        "study": evaluation.study.name,
        "path": evaluation.study.path,
        "trials": evaluation.spec.trials,
        **{key.replace(" ", "_"): value for key, value in counts.items()},
        "best": None if best is None else {"trial_id": best.trial_id, "best_val_ndcg_at_10": best.best_val_ndcg,
                                          "epochs": best.epochs, "status": best.status, "params": best.params},
    }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
