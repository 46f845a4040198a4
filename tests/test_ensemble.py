"""Ensembles of embedding models: one model whose score is the members' summed, members chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest

from track2vec.ensemble import MAX_MEMBERS, concatenate, nbytes, select_ensemble
from track2vec.errors import ConfigError
from track2vec.evaluation import evaluate_with
from track2vec.scoring import Vectors


def _model(rng, items=40, dim=6, bias=True) -> Vectors:
    return Vectors(rng.normal(size=(items, dim)).astype(np.float32), rng.normal(size=(items, dim)).astype(np.float32),
                   rng.normal(size=items).astype(np.float32) if bias else None)


def _scores(vectors: Vectors, method: str, counts, popularity_weight=0.0) -> np.ndarray:
    table = vectors.score_table(method, counts)
    bias = table.bias(popularity_weight)
    return table.queries @ table.items.T + (0 if bias is None else bias)


@pytest.mark.parametrize("method", ["target-context", "symmetric"])
def test_the_concatenated_model_scores_the_sum_of_its_members_scores(method):
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 50, size=40)
    first, second = _model(rng), _model(rng, dim=3, bias=False)  # a softmax and an sgns model
    joined = concatenate([first, second], method)
    assert joined.dim == 9
    np.testing.assert_allclose(_scores(joined, method, counts, 0.5),
                               _scores(first, method, counts, 0.5) + _scores(second, method, counts),
                               rtol=1e-5, atol=1e-5)
    # cosine: the mean of the members' cosines
    np.testing.assert_allclose(_scores(concatenate([first, second], "cosine"), "cosine", counts),
                               (_scores(first, "cosine", counts) + _scores(second, "cosine", counts)) / 2, atol=1e-5)


def test_models_of_different_vocabularies_or_without_context_vectors_are_refused():
    rng = np.random.default_rng(1)
    with pytest.raises(ConfigError, match="one vocabulary"):
        concatenate([_model(rng, items=40), _model(rng, items=41)], "target-context")
    for method in ("target-context", "symmetric"):
        with pytest.raises(ConfigError, match="context vectors"):
            concatenate([_model(rng), Vectors(_model(rng).embeddings)], method)


def _experts(items=60, queries=30, dim=8):
    """Pairs (q, answer) of which ``first`` knows the first half and ``second`` the second half."""
    rng = np.random.default_rng(2)
    answers = rng.permutation(np.arange(queries, items))[:queries]
    pairs = np.stack([np.arange(queries), answers], axis=1)
    counts = np.ones(items, dtype=np.int64)
    models = []
    for known in (pairs[: queries // 2], pairs[queries // 2:]):
        targets = rng.normal(scale=0.01, size=(items, dim)).astype(np.float32)
        contexts = rng.normal(scale=0.01, size=(items, dim)).astype(np.float32)
        for position, (query, answer) in enumerate(known):
            direction = np.zeros(dim, dtype=np.float32)
            direction[position % dim] = 1.0
            targets[query] += 3 * direction
            contexts[answer] += 3 * direction
        models.append(Vectors(targets, contexts, np.zeros(items, dtype=np.float32)))
    return pairs, counts, models


def test_greedy_selection_keeps_a_member_that_knows_what_the_best_model_misses():
    pairs, counts, (first, second) = _experts()
    alone = evaluate_with(first.score_table("target-context", counts), pairs).ndcg
    noise = Vectors(*(np.random.default_rng(3).normal(scale=1e-4, size=(60, 8)).astype(np.float32) for _ in range(2)))
    selection = select_ensemble([first, noise, second], "target-context", counts, pairs)
    assert selection.members == (0, 2)  # the noise adds nothing on validation and is left out
    assert selection.validation_ndcg > alone
    assert selection.validation_ndcg == pytest.approx(
        evaluate_with(selection.vectors.score_table("target-context", counts), pairs,
                      selection.scoring.popularity_weight).ndcg)


def test_the_best_model_alone_when_nobody_helps_and_the_size_stays_bounded():
    pairs, counts, (first, second) = _experts()
    assert select_ensemble([first], "target-context", counts, pairs).members == (0,)
    assert select_ensemble([first, first], "target-context", counts, pairs).members == (0,)  # a copy adds nothing
    # a member that would take the ensemble's vectors past the budget is left out
    assert nbytes(second) == 60 * 8 * 4 * 2
    assert select_ensemble([first, second], "target-context", counts, pairs,
                           max_bytes=nbytes(second) - 1).members == (0,)
    assert select_ensemble([first, second], "target-context", counts, pairs,
                           max_bytes=nbytes(second)).members == (0, 1)
    assert select_ensemble([first] + [second] * 5, "target-context", counts, pairs, max_members=2).members == (0, 1)
    assert MAX_MEMBERS >= 2


def test_candidates_are_read_one_at_a_time_and_the_rest_left_unread():
    pairs, counts, (first, second) = _experts()
    read = []

    def candidates():
        for name, vectors in (("first", first), ("second", second), ("third", second), ("fourth", second)):
            read.append(name)
            yield vectors

    selection = select_ensemble(candidates(), "target-context", counts, pairs, max_members=2)
    assert selection.members == (0, 1) and read == ["first", "second", "third"]


@pytest.mark.parametrize("method", ["cosine", "target-context", "symmetric"])
def test_summed_validation_scores_choose_what_scoring_the_joined_model_chooses(method):
    """Members' scores kept summed for the validation pairs (each candidate scored alone and added) pick the same
    members, scoring and NDCG@10 as scoring each candidate joined with the members as one model."""
    pairs, counts, (first, second) = _experts()
    rng = np.random.default_rng(4)
    counts = rng.integers(1, 200, size=60)
    weak = [Vectors(*(m + rng.normal(scale=1.0, size=m.shape).astype(np.float32)
                      for m in (second.embeddings, second.context_embeddings)), second.context_bias) for _ in range(3)]
    offered = [first, weak[0], second, weak[1], weak[2], first]
    summed = select_ensemble(offered, method, counts, pairs)
    joined = select_ensemble(offered, method, counts, pairs, max_summed_scores_bytes=0)
    assert summed.members == joined.members and len(summed.members) > 1
    assert summed.scoring == joined.scoring
    assert summed.validation_ndcg == pytest.approx(joined.validation_ndcg)
    np.testing.assert_array_equal(summed.vectors.embeddings, joined.vectors.embeddings)
    assert summed.validation_ndcg == pytest.approx(
        evaluate_with(summed.vectors.score_table(method, counts), pairs, summed.scoring.popularity_weight).ndcg)
