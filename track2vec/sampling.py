"""Skip-gram pairs with negative sampling, vectorised and streamed in bounded chunks.

Semantics follow the notebook (Keras ``skipgrams`` with a fixed window, negatives
drawn from counts**alpha), with three deliberate differences, and three options:

* frequent items are subsampled per token *before* windows are formed, as in
  word2vec and gensim (keep probability ``sqrt(t/f) + t/f``); the notebook applied
  the same formula to each pair's target after windowing;
* item id 0 (the most frequent item) is trained like any other: Keras
  ``skipgrams`` treats id 0 as padding, so the notebook silently never trained it;
* the k negatives of a positive pair share its target and travel in one row
  ``contexts[i] = [positive, negative_1, ..., negative_k]`` instead of k extra rows;
* ``forward``: only the contexts after a target (what comes next), not those before it;
* ``shrink_windows``: each target draws its reach uniformly in 1..window (word2vec's
  reduced window), from its playlist's stream;
* ``recency_scale``: a token ``d`` positions before its playlist's end is kept with probability
  ``exp(-d / recency_scale)`` on top of subsampling, so the ends of playlists, where the next item
  is asked for, weigh more (0: every position alike).

The loops are compiled (``track2vec.sampling_kernels``); this module holds the tables
and the order of the work: playlists in a seeded random order, in chunks; each chunk
subsampled, windowed and shuffled; its negatives drawn per bounded slice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from track2vec import sampling_kernels as kernels
from track2vec.errors import ConfigError

# Stream purposes (part of each random stream's key).
_SUBSAMPLE, _SHUFFLE, _NEGATIVES, _REACH = 1, 2, 3, 4


@dataclass
class SkipGramBatch:
    targets: np.ndarray  # int32 [n]
    contexts: np.ndarray  # int32 [n, 1 + negatives]; column 0 is the true context


def negative_distribution(counts: np.ndarray, alpha: float) -> np.ndarray:
    """Probabilities proportional to counts**alpha (alpha may be negative; 0 is uniform)."""
    weights = np.power(counts.astype(np.float64), alpha)
    return weights / weights.sum()


class AliasTable:
    """Walker's alias method: O(1) draws from a fixed discrete distribution.

    Drawing k negatives for millions of pairs is the sampler's hot spot; a
    binary search over the cumulative distribution per draw cost 3x more. The draws
    themselves are ``sampling_kernels.draw_negatives``.
    """

    def __init__(self, probabilities: np.ndarray) -> None:
        n = len(probabilities)
        scaled = probabilities * n
        self.accept = np.ones(n)
        self.alias = np.arange(n)
        small = [int(i) for i in np.flatnonzero(scaled < 1.0)]
        large = [int(i) for i in np.flatnonzero(scaled >= 1.0)]
        while small and large:
            low, high = small.pop(), large[-1]
            self.accept[low] = scaled[low]
            self.alias[low] = high
            scaled[high] -= 1.0 - scaled[low]
            if scaled[high] < 1.0:
                small.append(large.pop())
        # Leftovers are 1 up to rounding error: always accept them.
        self.accept = kernels.thresholds(self.accept)
        self.alias = self.alias.astype(np.int32)


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Where each of consecutive parts of these sizes starts (exclusive cumulative sum), int64."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def keep_probability(counts: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec's subsampling: probability of keeping each occurrence of an item."""
    if threshold <= 0:
        return np.ones(len(counts))
    frequency = counts / counts.sum()
    ratio = threshold / frequency
    return np.minimum(1.0, np.sqrt(ratio) + ratio)


class SkipGramSampler:
    """Generates the training pairs of one epoch, ``chunk_playlists`` playlists at a time."""

    def __init__(
        self,
        tokens: np.ndarray,
        offsets: np.ndarray,
        counts: np.ndarray,
        window: int,
        negatives: int,
        alpha: float,
        subsample: float,
        seed: int,
        chunk_playlists: int = 4096,
        slice_ids: int = 2**22,
        *,
        forward: bool = False,
        shrink_windows: bool = False,
        recency_scale: float = 0.0,
    ) -> None:
        if window < 1:
            raise ConfigError(f"window must be >= 1, got {window}")
        if not recency_scale >= 0:
            raise ConfigError(f"recency_scale must be >= 0, got {recency_scale}")
        if negatives < 0:
            raise ConfigError(f"negatives must be >= 0, got {negatives}")
        self.tokens = tokens
        self.offsets = offsets
        self.window = window
        self.forward = forward
        self.shrink_windows = shrink_windows
        self.recency_scale = float(recency_scale)
        self.negatives = negatives
        self.seed = seed
        self.chunk_playlists = chunk_playlists
        # Negatives are drawn for at most this many context ids at once: a chunk of long
        # playlists with a wide window and many negatives would otherwise hold gigabytes.
        self.slice_pairs = max(1, slice_ids // (1 + negatives))
        self.vocabulary_size = len(counts)
        self.negative_table = AliasTable(negative_distribution(counts, alpha))
        self.keep = keep_probability(counts, subsample)
        self.keep_thresholds = kernels.thresholds(self.keep)
        self.lengths = np.diff(offsets)

    def playlist_order(self, epoch: int) -> np.ndarray:
        """The epoch's random order of the playlists: derived from (seed, epoch), so any epoch can be replayed."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.lengths))

    def epoch(self, epoch: int) -> Iterator[SkipGramBatch]:
        """All pairs of one pass over the training playlists, in shuffled chunks of bounded size."""
        order = self.playlist_order(epoch)
        for chunk, start in enumerate(range(0, len(order), self.chunk_playlists)):
            targets, positives = self._positives(order[start : start + self.chunk_playlists], epoch, chunk)
            for part, first in enumerate(range(0, len(targets), self.slice_pairs)):
                rows = slice(first, first + self.slice_pairs)
                key = kernels.stream_key(self.seed, epoch, _NEGATIVES, chunk, part)
                yield self._with_negatives(targets[rows], positives[rows], key)

    def pair_count(self, epoch: int) -> int:
        """How many (target, context) pairs ``epoch(epoch)`` yields, without drawing them or their negatives."""
        order = self.playlist_order(epoch)
        total = 0
        for start in range(0, len(order), self.chunk_playlists):
            playlists, _tokens, _starts_of, kept = self._subsampled(order[start : start + self.chunk_playlists], epoch)
            total += int(self._pairs_per_playlist(playlists, kept, self._reach_key(epoch)).sum())
        return total

    def _subsampled(self, playlists: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(playlists, kept_tokens, starts, kept)``: each playlist's tokens after subsampling, packed."""
        playlists = playlists.astype(np.int64, copy=False)
        lengths = self.lengths[playlists]
        starts = _starts(lengths)
        kept_tokens = np.empty(int(lengths.sum()), dtype=np.int32)
        kept = np.empty(len(playlists), dtype=np.int64)
        with kernels.parallel_lock:
            kernels.subsample(self.tokens, self.offsets, playlists, self.keep_thresholds, self.recency_scale,
                              kernels.stream_key(self.seed, epoch, _SUBSAMPLE), starts, kept_tokens, kept)
        return playlists, kept_tokens, starts, kept

    def _reach_key(self, epoch: int) -> np.uint64:
        """The stream of the epoch's window reaches (shared by counting the pairs and drawing them)."""
        return kernels.stream_key(self.seed, epoch, _REACH)

    def _pairs_per_playlist(self, playlists: np.ndarray, kept: np.ndarray, reach_key: np.uint64) -> np.ndarray:
        pairs = np.empty(len(playlists), dtype=np.int64)
        with kernels.parallel_lock:
            kernels.count_pairs(playlists, kept, self.window, self.forward, self.shrink_windows, reach_key, pairs)
        return pairs

    def _positives(self, playlists: np.ndarray, epoch: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """The shuffled (target, context) pairs of some playlists, after subsampling."""
        playlists, kept_tokens, starts, kept = self._subsampled(playlists, epoch)
        reach_key = self._reach_key(epoch)
        pairs = self._pairs_per_playlist(playlists, kept, reach_key)
        targets = np.empty(int(pairs.sum()), dtype=np.int32)
        contexts = np.empty_like(targets)
        with kernels.parallel_lock:
            kernels.window_pairs(kept_tokens, starts, kept, playlists, self.window, self.forward, self.shrink_windows,
                                 reach_key, _starts(pairs), targets, contexts)
        kernels.shuffle_pairs(targets, contexts, kernels.stream_key(self.seed, epoch, _SHUFFLE, chunk))
        return targets, contexts

    def _with_negatives(self, targets: np.ndarray, positives: np.ndarray, key: np.uint64) -> SkipGramBatch:
        contexts = np.empty((len(targets), 1 + self.negatives), dtype=np.int32)
        contexts[:, 0] = positives
        with kernels.parallel_lock:
            kernels.draw_negatives(contexts, self.negative_table.accept, self.negative_table.alias, key)
        return SkipGramBatch(targets, contexts)
