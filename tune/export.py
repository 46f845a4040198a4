"""Export a study's winner: ``<study>/export/`` with the embeddings, ``model.json`` and the tables.

The files are those of ``track2vec.export.write_export`` (what ``track2vec recommend`` reads),
plus ``trials.csv`` and ``trials.md``, in the same atomic replacement where the storage is local.
``model.json`` keeps the comparison series as flat ``metrics`` keys and lists the trials the
export saw (``trial_ids``), so the report can tell an export older than its study. It says whose
vectors it holds (``vectors``: the trial and its seed; with repeats, the winning configuration's
best seed), and holds the test intervals (``intervals``) and the repeats (``repeats``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from track2vec.corpus import Corpus, validation_sample
from track2vec.errors import DataError, ExportExistsError
from track2vec.export import INFO_FILE, write_export

from tune.evaluation import Evaluation
from tune.study import EXPORT_DIR
from tune.table import TRIALS_CSV, TRIALS_MD, to_csv, trials_markdown

SELECTION = ("highest validation NDCG@10 of any epoch of any trial (each epoch under the scoring its trial chose "
             "on validation); test scored once afterwards")
SELECTION_WITH_REPEATS = ("highest mean validation NDCG@10 over new seeds among the top configurations of the search, "
                          "each retrained for its best epoch count; the vectors of that configuration's best seed "
                          "(by validation); test scored once afterwards")
ENSEMBLE_NOTE = ("the winner's vectors side by side with the next trials' that raised validation NDCG@10: one model "
                 "whose score is the sum of theirs (embeddings only); hyperparameters, best_epoch and cost are the "
                 "first trial's")
BLEND_NOTE = ("a separate mode (track2vec recommend --mode blend): the winner's vectors under the blend's scoring "
              "plus weight * (log(1 + SR) + ar_weight * log(1 + AR)), the scoring and weights chosen on validation "
              "(no ar_weight: SR alone); the winner alone is the pure-embedding model")


def model_info(evaluation: Evaluation, corpus: Corpus) -> dict:
    """``model.json``'s content (``write_export`` adds the format version)."""
    spec, winner = evaluation.spec, evaluation.winner
    run, seed = evaluation.winner_run or winner, evaluation.winner_seed
    repeated = run is not winner
    return {
        "study": evaluation.study.name,
        "trial_id": winner.trial_id,
        "optuna_trial": winner.optuna_number,
        "hyperparameters": {**winner.params, "epochs": run.best_epoch, "seed": seed},
        "best_epoch": run.best_epoch,
        "epochs_run": run.epochs,
        "seed": seed,
        "vectors": {"trial_id": run.trial_id, "seed": seed, "from": "repeats" if repeated else "search"},
        # an ensemble (tune/evaluation.py): the exported vectors are these trials' side by side, the first's first
        "ensemble": ({"trial_ids": [member.trial_id for member in evaluation.ensemble],
                      "dim": int(evaluation.winner_embeddings.shape[1]), "note": ENSEMBLE_NOTE}
                     if len(evaluation.ensemble) > 1 else None),
        "min_count": spec.min_count,
        "data": {"source": spec.data, "fingerprint": corpus.fingerprint, "stats": corpus.stats},
        "scoring": evaluation.winner_scoring.as_dict(),
        "metrics": evaluation.comparison.to_metrics(),
        "intervals": evaluation.intervals.as_dict() if evaluation.intervals else None,
        "repeats": evaluation.repeats.as_dict() if evaluation.repeats else None,
        "baselines": {name: baseline.settings for name, baseline in evaluation.baselines.items()},
        # the winner's cost (tune/cost.py) and the budget it was chosen under (none: null limits)
        "cost": {"seconds_per_epoch": winner.seconds_per_epoch, "peak_memory_mib": winner.peak_memory_mib},
        "budget": {"max_epoch_seconds": spec.max_epoch_seconds, "max_trial_memory": spec.max_trial_memory},
        "sample": spec.sample,
        "selection": SELECTION_WITH_REPEATS if repeated else SELECTION,
        # Trials' validation scores are on this many pairs (a sample when fewer than all); the winner's on all.
        "trial_validation_pairs": len(validation_sample(corpus.validation_pairs,
                                                    spec.trial_validation_sample(len(corpus.vocabulary)), spec.seed)),
        "trial_ids": [row.trial_id for row in evaluation.rows],
    }


def export_study(evaluation: Evaluation, corpus: Corpus, force: bool = False) -> str:
    """Write the winner and the tables into ``<study>/export``; returns its path."""
    study = evaluation.study
    if evaluation.winner is None:
        raise DataError(f"study {study.name!r} has no trial with a finished epoch yet: nothing to export")
    info = model_info(evaluation, corpus)
    if evaluation.blend is not None:
        info["blend"] = {**evaluation.blend.as_dict(), "note": BLEND_NOTE}
    tables = {TRIALS_CSV: to_csv(evaluation), TRIALS_MD: trials_markdown(evaluation)}
    vectors = {"context_embeddings": evaluation.winner_vectors.context_embeddings,
               "context_bias": evaluation.winner_vectors.context_bias,
               "blend_rules": evaluation.blend.count_term if evaluation.blend is not None else None}
    if study.is_local:  # the tables go into the same atomic replacement as the winner
        target = write_export(Path(study.export_path), evaluation.winner_embeddings, corpus.vocabulary, info,
                              force=force, extra_files=tables, **vectors)
        return str(target)
    # Remote storage: write locally, then copy into the study directory.
    import pyarrow.fs

    if study.exists() and not force and study.has_file(f"{EXPORT_DIR}/{INFO_FILE}"):
        raise ExportExistsError(f"{study.export_path} already exists; pass --force to replace it")
    staging = Path(tempfile.mkdtemp(prefix="track2vec-export-"))
    try:
        write_export(staging / EXPORT_DIR, evaluation.winner_embeddings, corpus.vocabulary, info, **vectors)
        for name, text in tables.items():
            (staging / EXPORT_DIR / name).write_text(text)
        pyarrow.fs.copy_files(str(staging / EXPORT_DIR), study.export_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return study.export_path
