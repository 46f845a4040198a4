"""Evaluate a study: pick the winner and score it once on the held-out test pairs, beside the baselines.

The winner is chosen on validation NDCG@10 only (the best epoch of each trial, under the
scoring that trial chose on validation), among the trials that meet the study's cost budget
(``tune/cost.py``; every trial where it has none); its vectors, from that best epoch, are then scored
with that scoring on the validation and test pairs. Trials may have scored their epochs on a
seeded sample of the validation pairs (``StudySpec.validation_sample``); the winner's validation
score here is always on all of them, so it is exact whatever the trials saw. The comparison series are scored on the
same pairs: the counted baselines (popularity, SR, AR; their parameters chosen on
validation), the blended mode (the winner's vectors plus the counts' term, SR's and AR's, the scoring and
weights chosen on validation: reported beside the winner, never in its place; ``track2vec.blend``) with that count
term alone beside it, and, for the built-in corpus,
the generator's oracle (one number).

The winner is then offered the next best trials (``ENSEMBLE_CANDIDATES``) as ensemble members
(``track2vec.ensemble``): their vectors side by side, one model whose score is the sum of theirs,
chosen greedily on validation under each scoring the trials chose from, the best ensemble keeping its
scoring (a sum of models may rank best another way than its best member). When members join, the
winner is that ensemble (its vectors are what is exported, scored and served) and the best trial alone
is scored beside it as its own series (``BEST_TRIAL``); it is still embeddings only. Members are
compared on the validation pairs the trials were scored on (all of them, or the seeded sample that
large vocabularies get).

With repeats (``tune/repeats.py``) the winner is the repeated configuration with the best mean
validation NDCG@10 over its new seeds, and its vectors are those of its best seed; the ensemble is offered
every other seed of the repeated configurations, each a member of its own, before the other trials
(``tune.repeats.ensemble_candidates``). Every test
score keeps its per-pair ranks, from which ``tune/intervals.py`` computes the intervals; the
runner-up (the next configuration in the same order) is scored on test for them alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np

from track2vec.baselines import Baseline, RuleSettings, corpus_baselines
from track2vec.blend import Blend, fit_blend, rule_log_scores
from track2vec.config import TrainConfig
from track2vec.corpus import Corpus, validation_sample
from track2vec.evaluation import metrics_from_ranks, rank_targets
from track2vec.ensemble import Selection, best_popularity_weight, select_ensemble
from track2vec.scoring import AUTO, Scoring, ScoreTable, Vectors

from tune.comparison import (BEST_TRIAL, BLEND, COUNTS, GENSIM, K, ONE_NUMBER, ORACLE, RUNNER_UP, TEST, VALIDATION,
                             WINNER, Comparison, Score)
from tune.intervals import StudyIntervals, study_intervals
from tune.large_corpus import is_large
from tune.reader import ERRORED, TrialRow, read_rows, status_counts
from tune.repeats import Repeats, candidates, ensemble_candidates, read_repeats
from tune.spec import StudySpec
from tune.study import Study
from tune.trainable import load_best_vectors, load_progress


# The best trials by validation (the winner first) offered as the ensemble's members: every trial of a study up
# to twice the default size, since trials stopped early by ASHA join too (BENCHMARKS.md, "The ensemble offered
# every trial"); the cap bounds the export's time on larger studies.
ENSEMBLE_CANDIDATES = 24


@dataclass
class Evaluation:
    """Every trial, best first, the winner and its comparison series."""

    study: Study
    spec: StudySpec
    rows: list[TrialRow]
    winner: TrialRow | None = None
    winner_vectors: Vectors | None = field(default=None, repr=False)
    winner_scoring: Scoring | None = None
    # the trials whose vectors the winner's are side by side (the winner's own first); one: not an ensemble
    ensemble: list[TrialRow] = field(default_factory=list)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    blend: Blend | None = None
    comparison: Comparison = field(default_factory=Comparison)
    repeats: Repeats | None = None
    winner_run: TrialRow | None = None  # whose vectors the winner's are: the winner's row, or its best repeat
    runner_up: TrialRow | None = None  # the next configuration by validation: scored on test for the intervals only
    test_ranks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # per-pair test ranks by series
    intervals: StudyIntervals | None = None

    @property
    def winner_embeddings(self) -> np.ndarray | None:
        return self.winner_vectors.embeddings if self.winner_vectors else None

    @property
    def winner_seed(self) -> int:
        """The seed of the run whose vectors are the winner's."""
        run = self.winner_run
        return run.seed if run is not None and run.seed is not None else self.spec.seed

    def counts(self) -> dict[str, int]:
        return status_counts(self.rows, self.spec.trials)

    @property
    def over_budget(self) -> list[TrialRow]:
        """The trials whose cost exceeds the study's budget, best validation NDCG@10 first."""
        return [row for row in self.rows if not row.meets_budget]

    @property
    def best_over_budget(self) -> TrialRow | None:
        """The best trial by validation when it exceeds the budget: the winner without the budget."""
        scored = [row for row in self.rows if row.status != ERRORED and row.best_val_ndcg is not None]
        return scored[0] if scored and not scored[0].meets_budget else None


def evaluate_study(study: Study, spec: StudySpec, corpus: Corpus | None) -> Evaluation:
    """Rows of every trial; with a corpus, the winner and every comparison series scored too."""
    evaluation = Evaluation(study, spec, read_rows(study, spec), repeats=read_repeats(study))
    if corpus is None:
        return evaluation
    ordered = candidates(evaluation.rows, evaluation.repeats)
    loaded = list(islice(_loadable(ordered), 2))  # the winner and the runner-up
    if loaded:
        evaluation.winner, evaluation.winner_run, evaluation.winner_vectors, evaluation.winner_scoring = loaded[0]
        offered = ensemble_candidates(evaluation.rows, evaluation.repeats)
        others = [(row, run) for row, run in offered if run is not evaluation.winner_run]
        # the next best trials, and with repeats every other seed of the repeated configurations besides
        limit = ENSEMBLE_CANDIDATES - 1 + len(offered) - len(ordered)
        _choose_ensemble(evaluation, lambda: chain(loaded[:1], islice(_loadable(others), limit)), corpus)
    splits = _splits(corpus)
    table = None
    if evaluation.winner_vectors is not None:
        table = evaluation.winner_vectors.score_table(evaluation.winner_scoring.method, corpus.counts)
        _add_scores(evaluation, WINNER, table, evaluation.winner_scoring, splits)
    if len(evaluation.ensemble) > 1:
        _, _, vectors, scoring = loaded[0]
        _add_scores(evaluation, BEST_TRIAL, vectors.score_table(scoring.method, corpus.counts), scoring, splits)
    if len(loaded) > 1 and WINNER in evaluation.test_ranks:  # on test for the interval of the difference only
        evaluation.runner_up, _, vectors, scoring = loaded[1]
        evaluation.test_ranks[RUNNER_UP] = rank_targets(vectors.score_table(scoring.method, corpus.counts),
                                                        corpus.test_pairs, (scoring.popularity_weight,))[:, 0]
    evaluation.baselines = corpus_baselines(corpus, K)
    if spec.gensim:
        from track2vec.gensim_baseline import gensim_baseline

        evaluation.baselines[GENSIM] = gensim_baseline(corpus, seed=spec.seed, k=K)
    if table is not None and "sr" in evaluation.baselines:
        _add_blend(evaluation, table, corpus)
    for name, baseline in evaluation.baselines.items():
        evaluation.comparison.add(name, VALIDATION, _score(baseline.validation))
        if baseline.test is not None:
            evaluation.comparison.add(name, TEST, _score(baseline.test))
            evaluation.test_ranks[name] = baseline.test_ranks
    if corpus.oracle:
        evaluation.comparison.add(ORACLE, ONE_NUMBER, Score(corpus.oracle["ndcg_at_10"], corpus.oracle["hr_at_10"]))
    evaluation.intervals = study_intervals(evaluation.test_ranks, evaluation.comparison,
                                           evaluation.runner_up.trial_id if evaluation.runner_up else None, spec.seed)
    return evaluation


def _loadable(offered: Iterable[tuple[TrialRow, TrialRow]]) -> Iterator[tuple[TrialRow, TrialRow, Vectors, Scoring]]:
    """Of ``offered`` (configuration's row, run; in order of preference, e.g. ``tune.repeats.candidates``: best
    validation NDCG@10 first), those that meet the budget and whose vectors load, with the run's best vectors and
    their scoring, each loaded only when asked for."""
    for row, run in offered:
        if run.status == ERRORED or run.best_val_ndcg is None or run.checkpoint is None or not row.meets_budget:
            continue
        vectors = _best_vectors(run)
        if vectors is not None:
            yield (row, run, *vectors)


def _choose_ensemble(evaluation: Evaluation, load_candidates: Callable[[], Iterable[tuple]], corpus: Corpus) -> None:
    """Make the winner the ensemble of the loaded trials that validation chooses (``track2vec.ensemble``).

    It is chosen under each scoring the winner's own epochs chose from (``_scoring_choices``), and the
    ensemble that ranks the validation pairs best keeps its scoring: a sum of models may rank best another way
    than its best member alone (the winner's own scoring first, so it keeps a tie). Under each scoring every
    trial that can be is offered, whichever scoring its own best epoch chose (for target-context and
    symmetric, the trials with context vectors); ``load_candidates`` reads them afresh, one at a time, for each.
    They are compared on the validation pairs the trials' epochs were scored on (a sample at large vocabularies)."""
    spec = evaluation.spec
    pairs = validation_sample(corpus.validation_pairs, spec.trial_validation_sample(len(corpus.vocabulary)), spec.seed)
    methods, popularity_weights = _scoring_choices(evaluation.winner_run, evaluation.winner_vectors,
                                                    evaluation.winner_scoring.method)
    best: tuple[Selection, list[TrialRow]] | None = None
    for method in methods:
        offered_runs: list[TrialRow] = []
        offered = _scorable(load_candidates(), method, offered_runs)
        selection = select_ensemble(offered, method, corpus.counts, pairs, popularity_weights)
        if best is None or selection.validation_ndcg > best[0].validation_ndcg:
            best = (selection, offered_runs)
    selection, offered_runs = best
    evaluation.ensemble = [offered_runs[index] for index in selection.members]
    if len(selection.members) > 1:
        evaluation.winner_vectors, evaluation.winner_scoring = selection.vectors, selection.scoring


def _scorable(loaded: Iterable[tuple], method: str, runs: list[TrialRow]) -> Iterator[Vectors]:
    """The vectors of the loaded trials that ``method`` can score, read one at a time (a candidate that does
    not join the ensemble is dropped before the next is read); each one's run is appended to ``runs``."""
    for _, run, vectors, _ in loaded:
        if vectors.can_score(method):
            runs.append(run)
            yield vectors


def _scoring_choices(run: TrialRow, vectors: Vectors, own_method: str) -> tuple[list[str], tuple[float, ...]]:
    """The scorings (``own_method`` first) and popularity weights the ensemble and the blend are tried under: those
    the trial's configuration chose from (``TrainConfig``: the fixed ones, or every one), of the scorings its
    vectors allow."""
    config = TrainConfig(scoring=run.params.get("scoring") or AUTO, popularity_weight=run.params.get("popularity_weight"))
    allowed = [method for method in config.scoring_methods() if vectors.can_score(method)]
    return [own_method] + [method for method in allowed if method != own_method], config.popularity_weights()


def _add_scores(evaluation: Evaluation, series: str, table, scoring: Scoring, splits) -> None:
    """Score ``table`` under ``scoring`` on every split as ``series`` (keeping its test ranks)."""
    for split, pairs in splits:
        ranks = rank_targets(table, pairs, (scoring.popularity_weight,))[:, 0]
        evaluation.comparison.add(series, split, _score(metrics_from_ranks(ranks, K)))
        if split == TEST:
            evaluation.test_ranks[series] = ranks


def _add_blend(evaluation: Evaluation, table: ScoreTable, corpus: Corpus) -> None:
    """The blended mode of the winner: its vectors under the scoring the blend chooses (``_blend_bases``) plus
    the count term of the SR (and AR) baselines' settings, and the count term alone beside it."""
    baselines = evaluation.baselines
    sr_settings = RuleSettings("sr", **baselines["sr"].settings)
    test_pairs = corpus.test_pairs if len(corpus.test_pairs) else None
    vocabulary_size = len(corpus.vocabulary)
    log_sr = rule_log_scores(corpus.tokens, corpus.offsets, vocabulary_size, sr_settings)
    # AR's whole matrix counts both directions, about twice SR's entries, and the blend holds both: on a very
    # large corpus (the size where the space switches to word2vec's recipe) the blend keeps SR's term alone.
    ar_settings = RuleSettings("ar", **baselines["ar"].settings) if "ar" in baselines else None
    log_ar = None
    if ar_settings is not None and not is_large(len(corpus.tokens)):
        log_ar = rule_log_scores(corpus.tokens, corpus.offsets, vocabulary_size, ar_settings)
    blend = fit_blend(_blend_bases(evaluation, table, corpus), log_sr, sr_settings,
                      corpus.validation_pairs, test_pairs, K, log_ar=log_ar, ar_settings=ar_settings)
    evaluation.blend = blend
    evaluation.comparison.add(BLEND, VALIDATION, _score(blend.validation))
    if blend.test is not None:
        evaluation.comparison.add(BLEND, TEST, _score(blend.test))
        evaluation.test_ranks[BLEND] = blend.test_ranks
    if blend.counts_validation is not None:
        evaluation.comparison.add(COUNTS, VALIDATION, _score(blend.counts_validation))
    if blend.counts_test is not None:
        evaluation.comparison.add(COUNTS, TEST, _score(blend.counts_test))
        evaluation.test_ranks[COUNTS] = blend.counts_test_ranks


def _blend_bases(evaluation: Evaluation, table: ScoreTable, corpus: Corpus) -> Iterator[tuple[Scoring, ScoreTable]]:
    """The embedding terms the blend is offered: the winner's own scoring first (``table``), then each other
    scoring its configuration chose from (``_scoring_choices``) with the popularity weight best on validation,
    each table built when asked for."""
    yield evaluation.winner_scoring, table
    vectors = evaluation.winner_vectors
    methods, popularity_weights = _scoring_choices(evaluation.winner_run, vectors, evaluation.winner_scoring.method)
    for method in methods[1:]:
        other = vectors.score_table(method, corpus.counts)
        yield best_popularity_weight(other, method, corpus.validation_pairs, popularity_weights)[0], other


def _splits(corpus: Corpus) -> list[tuple[str, np.ndarray]]:
    """The held-out pairs by split; a corpus too small for test pairs has none."""
    return [(split, pairs) for split, pairs in ((VALIDATION, corpus.validation_pairs), (TEST, corpus.test_pairs))
            if len(pairs)]


def _score(metrics) -> Score:
    return Score(metrics.ndcg, metrics.hit_rate)


def _best_vectors(row: TrialRow) -> tuple[Vectors, Scoring] | None:
    """The vectors of the trial's best epoch and the scoring they were measured with."""
    try:
        with row.checkpoint.as_directory() as directory:
            progress = load_progress(Path(directory))
            return load_best_vectors(Path(directory)), Scoring.from_dict(progress.best_scoring)
    except (OSError, ValueError, KeyError, TypeError, FileNotFoundError):
        return None
