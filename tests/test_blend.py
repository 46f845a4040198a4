"""Blended completion: embeddings' score plus a weight times log(1 + SR), against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from track2vec.baselines import RuleSettings, WEIGHTINGS, rules, transition_counts, weighted_counts
from track2vec.blend import blended_ranks, fit_blend, rule_log_scores
from track2vec.evaluation import metrics_from_ranks, rank_targets
from track2vec.scoring import score_table

RANDOM = np.random.default_rng(5)
V = 40
PLAYLISTS = [RANDOM.integers(0, V, RANDOM.integers(2, 12)).tolist() for _ in range(150)]
TOKENS = np.array([t for p in PLAYLISTS for t in p], dtype=np.int32)
OFFSETS = np.concatenate([[0], np.cumsum([len(p) for p in PLAYLISTS])]).astype(np.int64)
COUNTS = np.sort(RANDOM.integers(1, 300, V))[::-1].copy()
TABLE = score_table("target-context", RANDOM.normal(size=(V, 5)), COUNTS, RANDOM.normal(size=(V, 5)))
PAIRS = np.array([(a, b) for a, b in RANDOM.integers(0, V, (250, 2)) if a != b])
SETTINGS = RuleSettings("sr", 3, "div")


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
    blend = fit_blend(TABLE, 0.5, log_rules, SETTINGS, validation, test, blend_weights=(0.1, 1.0, 10.0))
    by_weight = {w: metrics_from_ranks(blended_ranks(TABLE, 0.5, log_rules, validation, (w,))[:, 0]).ndcg
                 for w in (0.1, 1.0, 10.0)}
    assert blend.validation.ndcg == pytest.approx(max(by_weight.values()))
    assert by_weight[blend.weight] == max(by_weight.values())
    expected_test = metrics_from_ranks(blended_ranks(TABLE, 0.5, log_rules, test, (blend.weight,))[:, 0]).ndcg
    assert blend.test.ndcg == pytest.approx(expected_test)
    np.testing.assert_array_equal(blend.test_ranks, blended_ranks(TABLE, 0.5, log_rules, test, (blend.weight,))[:, 0])
    assert metrics_from_ranks(blend.test_ranks) == blend.test
    assert blend.as_dict() == {"rules": SETTINGS.as_dict(), "weight": blend.weight}


def test_weighted_counts_are_in_the_units_of_the_weights():
    scores = rules(transition_counts(np.array([0, 1, 0, 1], np.int32), np.array([0, 4]), 2, 1), RuleSettings("sr", 1, "same"))
    np.testing.assert_allclose(weighted_counts(scores).toarray(), [[0, 2], [1, 0]])


def test_recommend_in_blend_mode_ranks_as_the_blended_evaluation(tmp_path):
    from track2vec.export import read_export, write_export
    from track2vec.recommend import Recommender
    from track2vec.scoring import Scoring
    from track2vec.vocabulary import Vocabulary

    log_rules = rule_log_scores(TOKENS, OFFSETS, V, SETTINGS)
    items = np.array([f"i{n}" for n in range(V)])
    path = write_export(tmp_path / "export", TABLE.queries, Vocabulary(items, COUNTS.astype(np.int64)),
                        {"scoring": Scoring("target-context", 0.5).as_dict(), "blend": {"weight": 3.0}},
                        context_embeddings=TABLE.items, blend_rules=log_rules)
    recommender = Recommender.from_export(path)
    assert recommender.can_blend and read_export(path).blend_weight == 3.0
    differs = 0
    for query in range(0, V, 3):
        ids = [int(s.item[1:]) for s in recommender.complete([f"i{query}"], k=8, mode="blend")]
        pairs = np.array([[query, item] for item in ids])
        np.testing.assert_array_equal(blended_ranks(TABLE, 0.5, log_rules, pairs, (3.0,))[:, 0], range(8))
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
