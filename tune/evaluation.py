"""Evaluate a study: pick the winner and score it once on the held-out test pairs, beside the baselines.

The winner is chosen on validation NDCG@10 only (the best epoch of each trial); its
embeddings, from that best epoch, are then scored on the validation and test pairs. The
comparison series are scored on the same pairs: the popularity baseline per split and,
for the built-in corpus, the generator's oracle (one number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from track2vec.corpus import Corpus
from track2vec.evaluation import evaluate, popularity_baseline

from tune.comparison import K, ONE_NUMBER, ORACLE, POPULARITY, TEST, VALIDATION, WINNER, Comparison, Score
from tune.reader import ERRORED, TrialRow, read_rows, status_counts
from tune.spec import StudySpec
from tune.study import Study
from tune.trainable import BEST_EMBEDDINGS_FILE


@dataclass
class Evaluation:
    """Every trial, best first, the winner and its comparison series."""

    study: Study
    spec: StudySpec
    rows: list[TrialRow]
    winner: TrialRow | None = None
    winner_embeddings: np.ndarray | None = field(default=None, repr=False)
    comparison: Comparison = field(default_factory=Comparison)

    def counts(self) -> dict[str, int]:
        return status_counts(self.rows, self.spec.trials)


def evaluate_study(study: Study, spec: StudySpec, corpus: Corpus | None) -> Evaluation:
    """Rows of every trial; with a corpus, the winner and every comparison series scored too."""
    evaluation = Evaluation(study, spec, read_rows(study, spec))
    if corpus is None:
        return evaluation
    for row in evaluation.rows:  # best first: the first whose embeddings load wins
        if row.status == ERRORED or row.best_val_ndcg is None or row.checkpoint is None:
            continue
        embeddings = _best_embeddings(row)
        if embeddings is not None:
            evaluation.winner, evaluation.winner_embeddings = row, embeddings
            break
    for split, pairs in _splits(corpus):
        if evaluation.winner_embeddings is not None:
            evaluation.comparison.add(WINNER, split, _score(evaluate(evaluation.winner_embeddings, pairs, K)))
    for split, pairs in _splits(corpus):
        evaluation.comparison.add(POPULARITY, split, _score(popularity_baseline(corpus.counts, pairs, K)))
    if corpus.oracle:
        evaluation.comparison.add(ORACLE, ONE_NUMBER, Score(corpus.oracle["ndcg_at_10"], corpus.oracle["hr_at_10"]))
    return evaluation


def _splits(corpus: Corpus) -> list[tuple[str, np.ndarray]]:
    """The held-out pairs by split; a corpus too small for test pairs has none."""
    return [(split, pairs) for split, pairs in ((VALIDATION, corpus.validation_pairs), (TEST, corpus.test_pairs))
            if len(pairs)]


def _score(metrics) -> Score:
    return Score(metrics.ndcg, metrics.hit_rate)


def _best_embeddings(row: TrialRow) -> np.ndarray | None:
    try:
        with row.checkpoint.as_directory() as directory:
            return np.load(Path(directory) / BEST_EMBEDDINGS_FILE, allow_pickle=False)
    except (OSError, ValueError, FileNotFoundError):
        return None
