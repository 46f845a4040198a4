"""Counted baselines: SR and AR counts, their ranks and their choice on validation, against brute force."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest

from track2vec.baselines import (KINDS, STEPS, WEIGHTINGS, RuleSettings, corpus_baselines, fit_count_baselines,
                                 ranks_by_rules, rules, transition_counts)
from track2vec.errors import ConfigError
from track2vec.evaluation import metrics_from_ranks


def flatten(playlists):
    tokens = np.array([t for p in playlists for t in p], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in playlists])]).astype(np.int64)
    return tokens, offsets


def brute_force_rules(playlists, settings: RuleSettings) -> dict:
    """score[(a, b)]: weighted occurrences of b after a (and, for AR, before a) within ``steps``."""
    weight = {"same": lambda d: Fraction(1), "div": lambda d: Fraction(1, d),
              "quadratic": lambda d: Fraction(1, d * d)}[settings.weighting]  # exact: ties stay ties
    score = defaultdict(Fraction)
    for playlist in playlists:
        for i, a in enumerate(playlist):
            for j, b in enumerate(playlist):
                distance = j - i
                if 0 < distance <= settings.steps:
                    score[(a, b)] += weight(distance)
                if settings.kind == "ar" and 0 < -distance <= settings.steps:
                    score[(a, b)] += weight(-distance)
    return score


def brute_force_rank(score: dict, vocabulary_size: int, query: int, answer: int) -> int:
    """The answer's position among all items but the query, by score, then popularity (smaller id first)."""
    candidates = [j for j in range(vocabulary_size) if j != query]
    ordered = sorted(candidates, key=lambda j: (-score.get((query, j), Fraction(0)), j))
    return ordered.index(answer)


RANDOM = np.random.default_rng(7)
PLAYLISTS = [RANDOM.integers(0, 25, RANDOM.integers(2, 14)).tolist() for _ in range(120)]
VOCABULARY = 25


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps, weighting", [(1, "same"), (3, "div"), (5, "quadratic"), (2, "same")])
def test_rule_scores_equal_brute_force_counts(kind, steps, weighting):
    settings = RuleSettings(kind, steps, weighting)
    counted = rules(transition_counts(*flatten(PLAYLISTS), VOCABULARY, 5), settings).toarray()
    expected = np.zeros((VOCABULARY, VOCABULARY))
    for (a, b), value in brute_force_rules(PLAYLISTS, settings).items():
        expected[a, b] = float(value)
    np.testing.assert_allclose(counted / counted.max(), expected / expected.max())  # up to a common scale


@pytest.mark.parametrize("kind", KINDS)
def test_ranks_follow_scores_then_popularity_and_never_the_query(kind):
    settings = RuleSettings(kind, 3, "div")
    scores = rules(transition_counts(*flatten(PLAYLISTS), VOCABULARY, 3), settings)
    brute = brute_force_rules(PLAYLISTS, settings)
    pairs = np.array([(a, b) for a in range(VOCABULARY) for b in range(VOCABULARY) if a != b])
    expected = [brute_force_rank(brute, VOCABULARY, a, b) for a, b in pairs]
    np.testing.assert_array_equal(ranks_by_rules(scores, pairs), expected)


def test_an_unseen_answer_ranks_after_every_scored_item_and_by_popularity():
    # Item 0 follows 1 once; from 1 only 0 is scored. Answer 3 (never after 1) comes after 0,
    # then after the unscored items more popular than it (2), the query 1 excluded.
    tokens, offsets = flatten([[1, 0], [2, 3]])
    scores = rules(transition_counts(tokens, offsets, 5, 1), RuleSettings("sr", 1, "same"))
    np.testing.assert_array_equal(ranks_by_rules(scores, np.array([[1, 0], [1, 3], [1, 2], [1, 4]])), [0, 2, 1, 3])


def test_counts_never_cross_playlists():
    tokens, offsets = flatten([[0, 1], [2, 3]])
    counts = transition_counts(tokens, offsets, 4, 3)
    assert counts[0][1, 2] == 0 and counts[0][0, 1] == 1 and counts[0][2, 3] == 1
    assert counts[1].nnz == 0 and counts[2].nnz == 0


@pytest.mark.parametrize("playlists", [PLAYLISTS, [pair.tolist() for pair in RANDOM.integers(0, VOCABULARY, (150, 2))]],
                         ids=["playlists", "pairs only: every setting ties"])
def test_settings_are_chosen_on_validation_ties_included_and_test_is_scored_with_them(playlists):
    # The search builds each weighting's sums up one distance at a time; the reference sums every setting
    # afresh with rules() and keeps the first best on validation in (steps, weighting) order.
    rng = np.random.default_rng(5)
    validation = np.array([(a, b) for a, b in rng.integers(0, VOCABULARY, (150, 2)) if a != b])
    test = np.array([(a, b) for a, b in rng.integers(0, VOCABULARY, (150, 2)) if a != b])
    tokens, offsets = flatten(playlists)
    fitted = fit_count_baselines(tokens, offsets, VOCABULARY, validation, test)
    counts = transition_counts(tokens, offsets, VOCABULARY, max(STEPS))
    for kind in KINDS:
        first_best = None
        for steps in STEPS:
            for weighting in WEIGHTINGS:
                if steps == 1 and weighting != "same":
                    continue
                settings = RuleSettings(kind, steps, weighting)
                ndcg = metrics_from_ranks(ranks_by_rules(rules(counts, settings), validation)).ndcg
                if first_best is None or ndcg > first_best[0]:
                    first_best = (ndcg, settings)
        chosen = fitted[kind]
        assert chosen.settings == {"steps": first_best[1].steps, "weighting": first_best[1].weighting}
        assert chosen.validation.ndcg == first_best[0]
        test_ranks = ranks_by_rules(rules(counts, first_best[1]), test)
        assert chosen.test.ndcg == pytest.approx(metrics_from_ranks(test_ranks).ndcg)
        # the per-pair ranks behind both scores are kept (for paired bootstrap intervals)
        np.testing.assert_array_equal(chosen.test_ranks, test_ranks)
        np.testing.assert_array_equal(chosen.validation_ranks, ranks_by_rules(rules(counts, first_best[1]), validation))


def test_corpus_baselines_name_popularity_sr_and_ar():
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from track2vec.evaluation import popularity_baseline

    corpus = build_corpus(load_playlists("builtin:tiny", 0), 2, 10_000, 10_000, 0)
    baselines = corpus_baselines(corpus)
    assert list(baselines) == ["popularity", "sr", "ar"]
    assert baselines["popularity"].test == popularity_baseline(corpus.counts, corpus.test_pairs)
    for baseline in baselines.values():
        assert metrics_from_ranks(baseline.test_ranks) == baseline.test
    # On the generator's Markov walks, transitions counted from training beat popularity.
    assert baselines["sr"].validation.ndcg > 1.5 * baselines["popularity"].validation.ndcg
    assert "steps" in baselines["ar"].label and baselines["ar"].test.pairs == len(corpus.test_pairs)


@pytest.mark.parametrize("kind, steps, weighting", [("xr", 1, "same"), ("sr", 0, "same"), ("ar", 2, "cubic"),
                                                    ("sr", 11, "same")])
def test_bad_settings_are_config_errors(kind, steps, weighting):
    with pytest.raises(ConfigError):
        RuleSettings(kind, steps, weighting)


def test_counting_only_the_queries_rows_gives_the_ranks_of_the_whole_matrices():
    """The search counts the rows of the validation and test queries only (memory at large corpora):
    with few distinct queries, every pair still ranks as with every row counted."""
    rng = np.random.default_rng(11)
    playlists = [rng.integers(0, 60, rng.integers(2, 20)).tolist() for _ in range(300)]
    tokens, offsets = flatten(playlists)
    queries = np.array([3, 17, 41])
    validation = np.array([(q, b) for q, b in zip(rng.choice(queries, 80), rng.integers(0, 60, 80)) if q != b])
    test = np.array([(q, b) for q, b in zip(rng.choice(queries, 80), rng.integers(0, 60, 80)) if q != b])
    fitted = fit_count_baselines(tokens, offsets, 60, validation, test)
    counts = transition_counts(tokens, offsets, 60, max(STEPS))
    for kind in KINDS:
        settings = RuleSettings(kind, **fitted[kind].settings)
        np.testing.assert_array_equal(fitted[kind].test_ranks, ranks_by_rules(rules(counts, settings), test))
        whole = metrics_from_ranks(ranks_by_rules(rules(counts, settings), validation))
        assert fitted[kind].validation == whole


@pytest.mark.parametrize("settings", [RuleSettings("sr", 5, "div"), RuleSettings("ar", 3, "quadratic")])
def test_rule_counts_summed_one_distance_at_a_time_equal_the_per_distance_sum(settings):
    from track2vec.baselines import weighted_rule_counts

    tokens, offsets = flatten(PLAYLISTS)
    expected = rules(transition_counts(tokens, offsets, VOCABULARY, settings.steps), settings)
    np.testing.assert_array_equal(weighted_rule_counts(tokens, offsets, VOCABULARY, settings).toarray(),
                                  expected.toarray())
