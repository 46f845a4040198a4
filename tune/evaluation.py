"""Evaluate a study: pick the winner and score it once on the held-out test pairs, beside the baselines.

The winner is chosen on validation NDCG@10 only (the best epoch of each trial, under the
scoring that trial chose on validation); its vectors, from that best epoch, are then scored
with that scoring on the validation and test pairs. The comparison series are scored on the
same pairs: the counted baselines (popularity, SR, AR; their parameters chosen on
validation), the blended mode (the winner plus the SR term, its weight chosen on
validation: reported beside the winner, never in its place) and, for the built-in corpus,
the generator's oracle (one number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import scipy.sparse as sp

from track2vec.baselines import Baseline, RuleSettings, corpus_baselines
from track2vec.blend import Blend, fit_blend, rule_log_scores
from track2vec.corpus import Corpus
from track2vec.evaluation import evaluate_with
from track2vec.scoring import Scoring, score_table

from tune.comparison import BLEND, K, ONE_NUMBER, ORACLE, TEST, VALIDATION, WINNER, Comparison, Score
from tune.reader import ERRORED, TrialRow, read_rows, status_counts
from tune.spec import StudySpec
from tune.study import Study
from tune.trainable import BestVectors, load_best_vectors, load_progress


@dataclass
class Evaluation:
    """Every trial, best first, the winner and its comparison series."""

    study: Study
    spec: StudySpec
    rows: list[TrialRow]
    winner: TrialRow | None = None
    winner_vectors: BestVectors | None = field(default=None, repr=False)
    winner_scoring: Scoring | None = None
    baselines: dict[str, Baseline] = field(default_factory=dict)
    blend: Blend | None = None
    blend_rules: sp.csr_matrix | None = field(default=None, repr=False)  # log(1 + SR) of the blend
    comparison: Comparison = field(default_factory=Comparison)

    @property
    def winner_embeddings(self) -> np.ndarray | None:
        return self.winner_vectors.embeddings if self.winner_vectors else None

    def counts(self) -> dict[str, int]:
        return status_counts(self.rows, self.spec.trials)


def evaluate_study(study: Study, spec: StudySpec, corpus: Corpus | None) -> Evaluation:
    """Rows of every trial; with a corpus, the winner and every comparison series scored too."""
    evaluation = Evaluation(study, spec, read_rows(study, spec))
    if corpus is None:
        return evaluation
    for row in evaluation.rows:  # best first: the first whose vectors load wins
        if row.status == ERRORED or row.best_val_ndcg is None or row.checkpoint is None:
            continue
        loaded = _best_vectors(row)
        if loaded is not None:
            evaluation.winner, (evaluation.winner_vectors, evaluation.winner_scoring) = row, loaded
            break
    splits = _splits(corpus)
    table = None
    if evaluation.winner_vectors is not None:
        vectors, scoring = evaluation.winner_vectors, evaluation.winner_scoring
        table = score_table(scoring.method, vectors.embeddings, corpus.counts, vectors.context_embeddings,
                            vectors.context_bias)
        for split, pairs in splits:
            evaluation.comparison.add(WINNER, split, _score(evaluate_with(table, pairs, scoring.popularity_weight, K)))
    evaluation.baselines = corpus_baselines(corpus, K)
    if table is not None and "sr" in evaluation.baselines:
        _add_blend(evaluation, table, corpus)
    for name, baseline in evaluation.baselines.items():
        evaluation.comparison.add(name, VALIDATION, _score(baseline.validation))
        if baseline.test is not None:
            evaluation.comparison.add(name, TEST, _score(baseline.test))
    if corpus.oracle:
        evaluation.comparison.add(ORACLE, ONE_NUMBER, Score(corpus.oracle["ndcg_at_10"], corpus.oracle["hr_at_10"]))
    return evaluation


def _add_blend(evaluation: Evaluation, table, corpus: Corpus) -> None:
    """The blended mode of the winner: its scoring plus the SR term of the SR baseline's settings."""
    settings = RuleSettings("sr", **evaluation.baselines["sr"].settings)
    test_pairs = corpus.test_pairs if len(corpus.test_pairs) else None
    blend = fit_blend(table, evaluation.winner_scoring.popularity_weight, corpus.tokens, corpus.offsets, settings,
                      corpus.validation_pairs, test_pairs, K)
    evaluation.blend = blend
    evaluation.blend_rules = rule_log_scores(corpus.tokens, corpus.offsets, len(corpus.vocabulary), settings)
    evaluation.comparison.add(BLEND, VALIDATION, _score(blend.validation))
    if blend.test is not None:
        evaluation.comparison.add(BLEND, TEST, _score(blend.test))


def _splits(corpus: Corpus) -> list[tuple[str, np.ndarray]]:
    """The held-out pairs by split; a corpus too small for test pairs has none."""
    return [(split, pairs) for split, pairs in ((VALIDATION, corpus.validation_pairs), (TEST, corpus.test_pairs))
            if len(pairs)]


def _score(metrics) -> Score:
    return Score(metrics.ndcg, metrics.hit_rate)


def _best_vectors(row: TrialRow) -> tuple[BestVectors, Scoring] | None:
    """The vectors of the trial's best epoch and the scoring they were measured with."""
    try:
        with row.checkpoint.as_directory() as directory:
            progress = load_progress(Path(directory))
            return load_best_vectors(Path(directory)), Scoring.from_dict(progress.best_scoring)
    except (OSError, ValueError, KeyError, TypeError, FileNotFoundError):
        return None
