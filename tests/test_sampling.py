"""Skip-gram sampling: windows inside playlists, seeded epochs, negatives from counts**alpha, subsampling."""

from __future__ import annotations

from collections import Counter

import numba
import numpy as np
import pytest
from scipy import stats

from track2vec.errors import ConfigError
from track2vec.sampling import SkipGramBatch, SkipGramSampler


def flatten(playlists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.array([t for p in playlists for t in p], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in playlists])]).astype(np.int64)
    return tokens, offsets


def sampler_for(playlists, counts=None, window=2, negatives=3, alpha=0.75, subsample=0.0, seed=0, chunk=4096,
                slice_ids=2**22, forward=False, shrink_windows=False, recency_scale=0.0):
    tokens, offsets = flatten(playlists)
    if counts is None:
        counts = np.bincount(tokens, minlength=tokens.max() + 1).clip(1)
    return SkipGramSampler(tokens, offsets, np.asarray(counts), window, negatives, alpha, subsample, seed, chunk,
                           slice_ids, forward=forward, shrink_windows=shrink_windows, recency_scale=recency_scale)


def one_epoch(sampler: SkipGramSampler, epoch: int = 0) -> SkipGramBatch:
    batches = list(sampler.epoch(epoch))
    return SkipGramBatch(
        np.concatenate([b.targets for b in batches]), np.concatenate([b.contexts for b in batches])
    )


def reference_pairs(playlists, window: int, forward: bool = False) -> Counter:
    """Brute force: every (target, context) at distance 1..window inside one playlist (context after it if ``forward``)."""
    pairs = Counter()
    for playlist in playlists:
        for i, target in enumerate(playlist):
            for j, context in enumerate(playlist):
                if 0 < abs(i - j) <= window and (j > i or not forward):
                    pairs[(target, context)] += 1
    return pairs


def pair_counter(batch: SkipGramBatch) -> Counter:
    return Counter(zip(batch.targets.tolist(), batch.contexts[:, 0].tolist()))


TINY = [[0, 1, 2, 3, 4], [5], [], [2, 2, 6], [7, 8], [1, 0, 1, 0, 1, 0, 9, 3], [4, 6, 8, 6, 4]]


@pytest.mark.parametrize("window", [1, 2, 3, 10])
@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_positive_pairs_equal_the_brute_force_windows(window, chunk):
    batch = one_epoch(sampler_for(TINY, window=window, chunk=chunk))
    assert Counter(zip(batch.targets.tolist(), batch.contexts[:, 0].tolist())) == reference_pairs(TINY, window)


def test_random_corpus_pairs_equal_the_brute_force_windows():
    rng = np.random.default_rng(3)
    playlists = [rng.integers(0, 50, rng.integers(0, 25)).tolist() for _ in range(300)]
    batch = one_epoch(sampler_for(playlists, window=3, chunk=37, seed=9))
    assert Counter(zip(batch.targets.tolist(), batch.contexts[:, 0].tolist())) == reference_pairs(playlists, 3)


@pytest.mark.parametrize("window", [1, 3, 10])
@pytest.mark.parametrize("chunk", [1, 4096])
def test_forward_windows_pair_each_target_with_the_items_after_it(window, chunk):
    batch = one_epoch(sampler_for(TINY, window=window, chunk=chunk, forward=True))
    assert pair_counter(batch) == reference_pairs(TINY, window, forward=True)


def test_shrunk_windows_draw_each_targets_reach_uniformly_in_1_to_window():
    # Item ids are their positions, so each pair's distance is known.
    window, length = 4, 40
    playlists = [list(range(length))] * 2000
    for forward in (False, True):
        batch = one_epoch(sampler_for(playlists, window=window, shrink_windows=True, forward=forward, seed=3))
        distance = batch.contexts[:, 0].astype(int) - batch.targets.astype(int)
        assert (np.abs(distance) >= 1).all() and (np.abs(distance) <= window).all()
        assert (distance > 0).all() if forward else (distance < 0).any()
        # A target at least `window` from both ends pairs with distance d when its reach r >= d: P = (w - d + 1) / w.
        inner = (batch.targets >= window) & (batch.targets < length - window) & (distance > 0)
        observed = np.bincount(distance[inner], minlength=window + 1)[1:] / (2000 * (length - 2 * window))
        expected = (window - np.arange(1, window + 1) + 1) / window
        np.testing.assert_allclose(observed, expected, atol=0.02)


def test_a_shrunk_window_is_the_targets_own_on_both_sides():
    # Every occurrence has its own id (playlist * 100 + position): its pairs before and after it
    # reach equally far when it is at least `window` from both ends of its playlist.
    window, length = 5, 30
    playlists = [[100 * p + i for i in range(length)] for p in range(300)]
    batch = one_epoch(sampler_for(playlists, window=window, shrink_windows=True, seed=8))
    distance = batch.contexts[:, 0].astype(int) - batch.targets.astype(int)
    after, before = Counter(), Counter()
    for target, d in zip(batch.targets.tolist(), distance.tolist()):
        side = after if d > 0 else before
        side[target] = max(side[target], abs(d))
    inner = [t for t in after if window <= t % 100 < length - window]
    assert len(inner) > 5000 and all(after[t] == before[t] for t in inner)
    assert set(after[t] for t in inner) == set(range(1, window + 1))


def test_shrunk_windows_are_a_function_of_seed_and_epoch():
    rng = np.random.default_rng(2)
    playlists = [rng.integers(0, 30, rng.integers(2, 20)).tolist() for _ in range(200)]
    make = lambda seed: sampler_for(playlists, window=5, shrink_windows=True, seed=seed, chunk=16)  # noqa: E731
    first, again = one_epoch(make(4), 1), one_epoch(make(4), 1)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert pair_counter(first) != pair_counter(one_epoch(make(4), 2))
    assert sum(pair_counter(first).values()) < sum(reference_pairs(playlists, 5).values())
    assert not pair_counter(first) - reference_pairs(playlists, 5)  # only pairs of the full window


@pytest.mark.parametrize("forward, shrink", [(False, False), (True, False), (False, True)])
def test_pair_count_is_the_number_of_pairs_the_epoch_yields(forward, shrink):
    rng = np.random.default_rng(5)
    playlists = [rng.integers(0, 60, rng.integers(1, 25)).tolist() for _ in range(300)]
    sampler = sampler_for(playlists, window=4, subsample=0.05, chunk=64, forward=forward, shrink_windows=shrink)
    for epoch in (0, 3):
        assert sampler.pair_count(epoch) == len(one_epoch(sampler, epoch).targets)


def test_large_chunks_come_in_bounded_slices_with_the_same_pairs():
    rng = np.random.default_rng(4)
    playlists = [rng.integers(0, 40, 30).tolist() for _ in range(100)]
    batches = list(sampler_for(playlists, window=5, negatives=4, slice_ids=500).epoch(0))
    assert len(batches) > 10 and all(len(b.targets) <= 100 for b in batches)  # 500 ids / (1 + 4) per pair
    batch = SkipGramBatch(np.concatenate([b.targets for b in batches]), np.concatenate([b.contexts for b in batches]))
    assert Counter(zip(batch.targets.tolist(), batch.contexts[:, 0].tolist())) == reference_pairs(playlists, 5)


def test_pairs_never_cross_playlists_even_with_subsampling():
    # Item ids are unique to a playlist, so the owner of every id is known.
    rng = np.random.default_rng(4)
    playlists, owner, next_id = [], {}, 0
    for index in range(200):
        length = int(rng.integers(1, 15))
        playlists.append(list(range(next_id, next_id + length)))
        owner.update({i: index for i in playlists[-1]})
        next_id += length
    counts = rng.integers(1, 1000, next_id)  # makes some items frequent enough to be subsampled
    sampler = sampler_for(playlists, counts=counts, window=4, subsample=1e-5, chunk=16)
    assert sampler.keep.min() < 0.5
    batch = one_epoch(sampler)
    assert len(batch.targets) > 0
    assert all(owner[t] == owner[c] for t, c in zip(batch.targets.tolist(), batch.contexts[:, 0].tolist()))


def test_contexts_hold_the_positive_then_k_negatives_as_int32_ids():
    counts = np.arange(1, 11)
    sampler = sampler_for(TINY, counts=counts, window=2, negatives=7)
    for batch in sampler.epoch(0):
        assert batch.targets.dtype == np.int32 and batch.contexts.dtype == np.int32
        assert batch.targets.shape == (len(batch.targets),)
        assert batch.contexts.shape == (len(batch.targets), 1 + 7)
        assert batch.contexts.min() >= 0 and batch.contexts.max() < len(counts)


def test_same_seed_same_batches_other_epoch_or_seed_different():
    rng = np.random.default_rng(0)
    playlists = [rng.integers(0, 30, rng.integers(2, 20)).tolist() for _ in range(100)]
    make = lambda seed: sampler_for(playlists, window=3, negatives=4, subsample=1e-2, seed=seed, chunk=32)  # noqa: E731
    first, again, other_seed = make(5), make(5), make(6)
    for epoch in (0, 3):
        a, b = list(first.epoch(epoch)), list(again.epoch(epoch))
        assert len(a) == len(b) > 1
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.targets, y.targets)
            np.testing.assert_array_equal(x.contexts, y.contexts)
    epoch0, epoch1 = one_epoch(first, 0), one_epoch(first, 1)
    assert not np.array_equal(epoch0.contexts[:100], epoch1.contexts[:100])
    assert not np.array_equal(epoch0.contexts[:100], one_epoch(other_seed, 0).contexts[:100])


def test_batches_do_not_depend_on_the_number_of_threads():
    rng = np.random.default_rng(4)
    playlists = [rng.integers(0, 40, rng.integers(2, 30)).tolist() for _ in range(3000)]
    sampler = sampler_for(playlists, window=4, negatives=5, subsample=1e-2, seed=9, chunk=700, slice_ids=50_000,
                          shrink_windows=True)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        alone = list(sampler.epoch(2))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        shared = list(sampler.epoch(2))
    finally:
        numba.set_num_threads(before)
    assert len(alone) == len(shared) > 4
    for x, y in zip(alone, shared):
        np.testing.assert_array_equal(x.targets, y.targets)
        np.testing.assert_array_equal(x.contexts, y.contexts)


def test_a_playlists_subsampling_does_not_depend_on_its_chunk():
    counts = np.array([10**6, 10**5, 10**4, 10, 10])
    rng = np.random.default_rng(5)
    playlists = [rng.integers(0, 5, 12).tolist() for _ in range(50)]
    kept = [Counter(zip(*[b.tolist() for b in (batch.targets, batch.contexts[:, 0])]))
            for batch in (one_epoch(sampler_for(playlists, counts=counts, window=11, subsample=1e-3, chunk=chunk))
                          for chunk in (1, 7, 4096))]
    assert kept[0] == kept[1] == kept[2]


def test_probability_thresholds_are_exact_at_0_and_1():
    from track2vec.sampling_kernels import UNIT_BITS, thresholds

    np.testing.assert_array_equal(thresholds(np.array([0.0, 1.0, 0.5, 1.2, -0.1])),
                                  [0, 2**UNIT_BITS, 2**(UNIT_BITS - 1), 2**UNIT_BITS, 0])


@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.0, -0.5])
def test_negatives_follow_counts_to_the_power_alpha(alpha):
    counts = np.array([400, 100, 30, 10, 3, 1, 1, 60])
    rng = np.random.default_rng(1)
    playlists = [rng.integers(0, len(counts), 20).tolist() for _ in range(1500)]
    batch = one_epoch(sampler_for(playlists, counts=counts, window=2, negatives=5, alpha=alpha, seed=2))
    negatives = batch.contexts[:, 1:].ravel()
    observed = np.bincount(negatives, minlength=len(counts))
    expected_share = counts.astype(float) ** alpha / (counts.astype(float) ** alpha).sum()
    assert len(negatives) > 300_000
    _, p_value = stats.chisquare(observed, expected_share * len(negatives))
    assert p_value > 1e-4, (observed / len(negatives), expected_share)
    assert np.allclose(observed / len(negatives), expected_share, rtol=0.05, atol=1e-4)


def word2vec_keep_probability(counts: np.ndarray, t: float) -> np.ndarray:
    """word2vec.c: keep with probability (sqrt(f / (t * total)) + 1) * (t * total) / f."""
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / t) + 1) * t / f)


def test_subsampling_keeps_each_occurrence_with_word2vecs_probability():
    # Item 5 (rare by its count) is an anchor always kept: each playlist (x, anchor) yields
    # the pair (x, anchor) exactly when the occurrence of x was kept.
    counts = np.array([100_000, 20_000, 4_000, 1_000, 100, 10])
    t = 0.01
    per_item = 4000
    playlists = [[x, 5] for x in range(5) for _ in range(per_item)]
    batch = one_epoch(sampler_for(playlists, counts=counts, window=1, negatives=1, subsample=t, seed=3))
    is_anchor_context = batch.contexts[:, 0] == 5
    kept = np.bincount(batch.targets[is_anchor_context], minlength=6)[:5]
    expected = word2vec_keep_probability(counts, t)[:5]
    assert expected[0] < 0.2 and expected[-1] == 1.0
    sigma = np.sqrt(per_item * expected * (1 - expected)) + 1e-9
    assert (np.abs(kept - per_item * expected) < 5 * sigma + 1).all(), (kept / per_item, expected)
    assert (np.diff(kept) >= 0).all()  # the more frequent, the more dropped


def test_windows_are_formed_after_subsampling():
    # Item 1 is almost always dropped, so 0 and 2 become neighbours (as in word2vec and gensim).
    counts = np.array([1, 10**9, 1])
    playlists = [[0, 1, 2]] * 200
    batch = one_epoch(sampler_for(playlists, counts=counts, window=1, subsample=1e-9))
    pairs = Counter(zip(batch.targets.tolist(), batch.contexts[:, 0].tolist()))
    assert pairs[(0, 2)] > 190 and pairs[(2, 0)] > 190


def test_recency_scale_keeps_a_target_d_before_the_end_with_probability_exp_minus_d_over_scale():
    # The anchor 9 ends every playlist (d = 0: always kept) and the window spans the playlist, so the pair
    # (k, anchor) is drawn exactly when item k, 5 - k positions before the end, was kept.
    per_item, scale = 4000, 2.0
    playlists = [[0, 1, 2, 3, 4, 9]] * per_item
    batch = one_epoch(sampler_for(playlists, window=10, negatives=1, recency_scale=scale, seed=5))
    kept = np.bincount(batch.targets[batch.contexts[:, 0] == 9], minlength=5)[:5]
    expected = np.exp(-(5 - np.arange(5)) / scale)
    sigma = np.sqrt(per_item * expected * (1 - expected))
    assert (np.abs(kept - per_item * expected) < 5 * sigma + 1).all(), (kept / per_item, expected)
    # The anchor is every kept item's context and never dropped: as a target it pairs with each of them.
    assert (batch.targets == 9).sum() == kept.sum()


def test_recency_scale_zero_keeps_every_position():
    playlists = [[0, 1, 2, 3, 4, 9]] * 50
    assert pair_counter(one_epoch(sampler_for(playlists, recency_scale=0.0))) == reference_pairs(playlists, 2)


def test_subsample_zero_keeps_everything():
    counts = np.array([10**6, 1, 1])
    sampler = sampler_for([[0, 1, 2, 0]], counts=counts, subsample=0.0)
    np.testing.assert_array_equal(sampler.keep, 1.0)


@pytest.mark.parametrize("window, negatives", [(0, 5), (-1, 5), (2, -1)])
def test_invalid_window_or_negatives(window, negatives):
    with pytest.raises(ConfigError):
        sampler_for(TINY, window=window, negatives=negatives)


@pytest.mark.parametrize("scale", [-1.0, float("nan")])
def test_invalid_recency_scale(scale):
    with pytest.raises(ConfigError, match="recency_scale must be >= 0"):
        sampler_for(TINY, recency_scale=scale)
