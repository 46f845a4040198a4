"""Blended completion: embeddings' score plus a weight times log(1 + SR), against brute force."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import pytest

from track2vec.baselines import RuleSettings, WEIGHTINGS, rules, transition_counts, weighted_counts
from track2vec.blend import blended_ranks, blended_ranks_per_term, count_term, fit_blend, rule_log_scores
from track2vec.evaluation import metrics_from_ranks, rank_targets
from track2vec.scoring import Scoring, score_table

RANDOM = np.random.default_rng(5)
V = 40
PLAYLISTS = [RANDOM.integers(0, V, RANDOM.integers(2, 12)).tolist() for _ in range(150)]
TOKENS = np.array([t for p in PLAYLISTS for t in p], dtype=np.int32)
OFFSETS = np.concatenate([[0], np.cumsum([len(p) for p in PLAYLISTS])]).astype(np.int64)
COUNTS = np.sort(RANDOM.integers(1, 300, V))[::-1].copy()
TABLE = score_table("target-context", RANDOM.normal(size=(V, 5)), COUNTS, RANDOM.normal(size=(V, 5)))
PAIRS = np.array([(a, b) for a, b in RANDOM.integers(0, V, (250, 2)) if a != b])
SETTINGS = RuleSettings("sr", 3, "div")
BASE = [(Scoring("target-context", 0.5), TABLE)]  # the embedding term the blends below are offered


def test_log_rules_are_log1p_of_the_weighted_counts():
    counted = np.zeros((V, V))
    for playlist in PLAYLISTS:
        for i, a in enumerate(playlist):
            for d in range(1, 4):
                if i + d < len(playlist):
                    counted[a, playlist[i + d]] += WEIGHTINGS["div"](d)
    np.testing.assert_allclose(rule_log_scores(TOKENS, OFFSETS, V, SETTINGS).toarray(), np.log1p(counted), rtol=1e-6)


@pytest.mark.parametrize("popularity_weight", [0.0, 1.0])
def test_blended_ranks_equal_brute_force(popularity_weight, monkeypatch):
    import track2vec.blend as blend

    monkeypatch.setattr(blend, "RANK_TILE", (16, 8))
    log_rules = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    weights = (0.0, 0.5, 5.0)
    ranks = blended_ranks(TABLE, popularity_weight, log_rules, PAIRS, weights)
    base = TABLE.queries.astype(np.float64) @ TABLE.items.astype(np.float64).T + popularity_weight * np.log(COUNTS)
    for column, weight in enumerate(weights):
        scores = base + weight * log_rules.toarray()
        expected = []
        for q, a in PAIRS:
            ahead = scores[q] > scores[q, a]
            ahead[[q, a]] = False
            expected.append(ahead.sum())
        assert np.abs(ranks[:, column] - expected).max() <= 1 and (ranks[:, column] == expected).mean() > 0.99
    # Weight 0 is the pure embedding ranking.
    np.testing.assert_array_equal(ranks[:, 0], rank_targets(TABLE, PAIRS, (popularity_weight,))[:, 0])


def test_the_blend_weight_is_chosen_on_validation():
    validation, test = PAIRS[:120], PAIRS[120:]
    log_rules = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    blend = fit_blend(BASE, log_rules, SETTINGS, validation, test, blend_weights=(0.1, 1.0, 10.0))
    by_weight = {w: metrics_from_ranks(blended_ranks(TABLE, 0.5, log_rules, validation, (w,))[:, 0]).ndcg
                 for w in (0.1, 1.0, 10.0)}
    assert blend.validation.ndcg == pytest.approx(max(by_weight.values()))
    assert by_weight[blend.weight] == max(by_weight.values())
    expected_test = metrics_from_ranks(blended_ranks(TABLE, 0.5, log_rules, test, (blend.weight,))[:, 0]).ndcg
    assert blend.test.ndcg == pytest.approx(expected_test)
    np.testing.assert_array_equal(blend.test_ranks, blended_ranks(TABLE, 0.5, log_rules, test, (blend.weight,))[:, 0])
    assert metrics_from_ranks(blend.test_ranks) == blend.test
    assert blend.as_dict() == {"scoring": BASE[0][0].as_dict(), "rules": SETTINGS.as_dict(), "weight": blend.weight}


def test_weighted_counts_are_in_the_units_of_the_weights():
    scores = rules(transition_counts(np.array([0, 1, 0, 1], np.int32), np.array([0, 4]), 2, 1), RuleSettings("sr", 1, "same"))
    np.testing.assert_allclose(weighted_counts(scores).toarray(), [[0, 2], [1, 0]])


def test_the_blend_keeps_the_scoring_that_ranks_best_with_the_counts_on_validation():
    """Offered several embedding terms, the blend fits its weights on each and keeps the best on validation
    (here the one whose target-context scores know the validation answers, not cosine, offered first); its test
    ranks are that scoring's. Offered one term twice, it keeps the first."""
    validation, test = PAIRS[:120], PAIRS[120:]
    log_rules = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    targets, contexts = np.eye(V), np.zeros((V, V))
    contexts[validation[:, 1], validation[:, 0]] = 5.0
    bases = [(Scoring("cosine", 0.0), score_table("cosine", targets, COUNTS)),
             (Scoring("target-context", 0.0), score_table("target-context", targets, COUNTS, contexts))]
    weights = (0.1, 1.0)
    blend = fit_blend(bases, log_rules, SETTINGS, validation, test, blend_weights=weights)
    best = {scoring: max(metrics_from_ranks(blended_ranks(table, 0.0, log_rules, validation, (w,))[:, 0]).ndcg
                         for w in weights) for scoring, table in bases}
    assert blend.scoring == Scoring("target-context", 0.0) and best[blend.scoring] > best[Scoring("cosine", 0.0)]
    assert blend.validation.ndcg == pytest.approx(best[blend.scoring])
    np.testing.assert_array_equal(blend.test_ranks, blended_ranks(bases[1][1], 0.0, log_rules, test, (blend.weight,))[:, 0])
    assert blend.as_dict()["scoring"] == {"method": "target-context", "popularity_weight": 0.0}
    twice = fit_blend([(Scoring("symmetric", 0.5), TABLE), (Scoring("target-context", 0.5), TABLE)], log_rules,
                      SETTINGS, validation, test, blend_weights=weights)
    assert twice.scoring == Scoring("symmetric", 0.5)


@pytest.mark.parametrize("blend_scoring", [None, Scoring("symmetric", 0.0)])
def test_recommend_in_blend_mode_ranks_as_the_blended_evaluation(tmp_path, blend_scoring):
    """Under the export's scoring, or under the blend's own where the export records another."""
    from track2vec.export import read_export, write_export
    from track2vec.recommend import Recommender
    from track2vec.vocabulary import Vocabulary

    log_rules = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    items = np.array([f"i{n}" for n in range(V)])
    blend = {"weight": 3.0} if blend_scoring is None else {"weight": 3.0, "scoring": blend_scoring.as_dict()}
    path = write_export(tmp_path / "export", TABLE.queries, Vocabulary(items, COUNTS.astype(np.int64)),
                        {"scoring": Scoring("target-context", 0.5).as_dict(), "blend": blend},
                        context_embeddings=TABLE.items, blend_rules=log_rules)
    recommender = Recommender.from_export(path)
    assert recommender.can_blend and read_export(path).blend_weight == 3.0
    blend_scoring = blend_scoring or Scoring("target-context", 0.5)
    assert read_export(path).blend_scoring == blend_scoring
    blend_table = score_table(blend_scoring.method, TABLE.queries, COUNTS, TABLE.items)
    differs = 0
    for query in range(0, V, 3):
        ids = [int(s.item[1:]) for s in recommender.complete([f"i{query}"], k=8, mode="blend")]
        pairs = np.array([[query, item] for item in ids])
        np.testing.assert_array_equal(
            blended_ranks(blend_table, blend_scoring.popularity_weight, log_rules, pairs, (3.0,))[:, 0], range(8))
        differs += ids != [int(s.item[1:]) for s in recommender.complete([f"i{query}"], k=8)]
    assert differs > 3  # the SR term changes the lists


def test_blend_mode_needs_an_export_with_a_blend(tmp_path):
    from track2vec.errors import ConfigError
    from track2vec.export import write_export
    from track2vec.recommend import Recommender
    from track2vec.vocabulary import Vocabulary

    path = write_export(tmp_path / "plain", TABLE.queries, Vocabulary(np.array([f"i{n}" for n in range(V)]),
                                                                     COUNTS.astype(np.int64)), {})
    with pytest.raises(ConfigError, match="blend"):
        Recommender.from_export(path).complete(["i1"], mode="blend")


AR_SETTINGS = RuleSettings("ar", 2, "div")


def test_the_blend_offered_ar_chooses_both_weights_on_validation():
    validation, test = PAIRS[:120], PAIRS[120:]
    log_sr = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    log_ar = rule_log_scores(TOKENS, OFFSETS, V, AR_SETTINGS)
    blend_weights, ar_weights = (0.3, 3.0), (0.0, 1.0, 5.0)
    blend = fit_blend(BASE, log_sr, SETTINGS, validation, test, blend_weights=blend_weights,
                      log_ar=log_ar, ar_settings=AR_SETTINGS, ar_weights=ar_weights)

    def ranks_with(pairs, ar_weight, blend_weight):
        term = log_sr.toarray() + ar_weight * log_ar.toarray()
        return blended_ranks(TABLE, 0.5, sp.csr_matrix(term), pairs, (blend_weight,))[:, 0]

    by_weights = {(a, b): metrics_from_ranks(ranks_with(validation, a, b)).ndcg for a in ar_weights for b in blend_weights}
    assert blend.validation.ndcg == pytest.approx(max(by_weights.values()))
    assert by_weights[(blend.ar_weight, blend.weight)] == max(by_weights.values())
    np.testing.assert_array_equal(blend.test_ranks, ranks_with(test, blend.ar_weight, blend.weight))
    # The exported count term is the chosen one: recommend ranks what was evaluated.
    np.testing.assert_allclose(blend.count_term.toarray(), log_sr.toarray() + blend.ar_weight * log_ar.toarray(),
                               rtol=1e-6)
    # The count term alone: its own AR weight, the best of the counts' rankings on validation.
    from track2vec.baselines import ranks_by_rules

    alone = {a: metrics_from_ranks(ranks_by_rules(sp.csr_matrix(log_sr + a * log_ar), validation)).ndcg
             for a in ar_weights}
    assert blend.counts_validation.ndcg == pytest.approx(max(alone.values()))
    assert alone[blend.counts_ar_weight] == max(alone.values())
    np.testing.assert_array_equal(
        blend.counts_test_ranks, ranks_by_rules(sp.csr_matrix(log_sr + blend.counts_ar_weight * log_ar), test))
    assert metrics_from_ranks(blend.counts_test_ranks) == blend.counts_test


def test_ar_changes_the_blend_where_validation_asks_for_it():
    """On pairs drawn where AR counts (items before the query), the blend takes the AR term and ranks better."""
    log_sr = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    log_ar = rule_log_scores(TOKENS, OFFSETS, V, AR_SETTINGS)
    before = np.array([(p[i], p[i - 1]) for p in PLAYLISTS for i in range(1, len(p)) if p[i] != p[i - 1]])
    validation, test = before[::2], before[1::2]
    sr_only = fit_blend(BASE, log_sr, SETTINGS, validation, test)
    both = fit_blend(BASE, log_sr, SETTINGS, validation, test, log_ar=log_ar, ar_settings=AR_SETTINGS)
    assert sr_only.ar_weight == 0 and sr_only.counts_validation is None and "ar_rules" not in sr_only.as_dict()
    assert both.ar_weight > 0 and both.validation.ndcg > sr_only.validation.ndcg
    assert both.as_dict() == {"scoring": BASE[0][0].as_dict(), "rules": SETTINGS.as_dict(), "weight": both.weight,
                              "ar_rules": AR_SETTINGS.as_dict(), "ar_weight": both.ar_weight,
                              "counts_ar_weight": both.counts_ar_weight}


def test_ranks_per_count_term_are_each_terms_own_ranks(monkeypatch):
    import track2vec.blend as blend

    monkeypatch.setattr(blend, "RANK_TILE", (16, 8))
    log_sr = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    log_ar = rule_log_scores(TOKENS, OFFSETS, V, AR_SETTINGS)
    terms = [count_term(log_sr, log_ar, w) for w in (0.0, 1.0, 3.0)]
    ranks = blended_ranks_per_term(TABLE, 0.5, terms, PAIRS, (0.3, 3.0))
    assert ranks.shape == (len(PAIRS), 3, 2)
    for index, term in enumerate(terms):
        np.testing.assert_array_equal(ranks[:, index], blended_ranks(TABLE, 0.5, term, PAIRS, (0.3, 3.0)))
    assert (ranks[:, 0] != ranks[:, 2]).any()  # the AR term changes the ranks
