"""The skip-gram sampler's inner loops, compiled with Numba: one pass per step, no temporaries.

NumPy needs a pass over memory per operation (draw, compare, gather, select), and an
epoch of negatives alone is tens of millions of ids; these loops draw, look up and
write each id once, as gensim's C loop does.

Random numbers come from SplitMix64 used as a counter-based generator: the n-th number
of a stream is ``mix(key + n * GOLDEN)``. Each playlist and each block of rows has its
own stream, keyed by (seed, epoch, what it is for, its index), so the output does not
depend on the number of threads or on how the work is split between them.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit, prange

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
UNIT_BITS = 24  # probabilities are compared as integers out of 2**24 (float32's precision)
ROWS_PER_STREAM = 4096  # rows of negatives drawn from one stream (the unit of parallel work)
_MASK64 = (1 << 64) - 1

# Numba's default thread pool (workqueue) must not be entered by two Python threads at once.
parallel_lock = threading.Lock()


def stream_key(*parts: int) -> np.uint64:
    """A 64-bit key from integers (seed, epoch, purpose, indices), each step through SplitMix64's mixer."""
    key = 0
    for part in parts:
        key = _mix_python((key + (part & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64)
    return np.uint64(key)


def thresholds(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] as uint64 thresholds out of 2**24: ``_draw24(x) < threshold`` holds with that probability."""
    return np.round(np.clip(probabilities, 0.0, 1.0) * (1 << UNIT_BITS)).astype(np.uint64)


def _mix_python(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _draw24(x):
    """An integer in [0, 2**24) from the top 24 bits (integer compares: no float conversion in the loops)."""
    return x >> np.uint64(64 - UNIT_BITS)


@njit(inline="always")
def _below(x, n):
    """An integer in [0, n) from the low 32 bits (multiply-shift; bias below n / 2**32)."""
    return np.int64(((x & _LOW32) * np.uint64(n)) >> np.uint64(32))


@njit(parallel=True, nogil=True, cache=True)
def subsample(tokens, offsets, playlists, keep, recency_scale, key, out_starts, out_tokens, kept):
    """Keep each token of each playlist with probability ``keep[token] / 2**24`` (see ``thresholds``),
    times ``exp(-d / recency_scale)`` for a token ``d`` positions before its playlist's end when
    ``recency_scale`` > 0.

    Playlist ``i`` of ``playlists`` writes its kept tokens, in order, from ``out_starts[i]``
    of ``out_tokens`` and their number to ``kept[i]``. Its stream is keyed by its id, so a
    playlist's draws do not depend on the chunk it is in.
    """
    for i in prange(len(playlists)):
        playlist = playlists[i]
        start = offsets[playlist]
        length = offsets[playlist + 1] - start
        stream = _mix(key + np.uint64(playlist) * GOLDEN)
        n = 0
        out = out_starts[i]
        for j in range(length):
            token = tokens[start + j]
            threshold = keep[token]
            if recency_scale > 0.0:
                threshold = np.uint64(threshold * math.exp(-(length - 1 - j) / recency_scale))
            if _draw24(_mix(stream + np.uint64(j) * GOLDEN)) < threshold:
                out_tokens[out + n] = token
                n += 1
        kept[i] = n


@njit(inline="always")
def _reach(window, shrink, stream, position):
    """How far the token at ``position`` of a playlist looks: ``window``, or with ``shrink`` a draw in 1..window."""
    if shrink:
        return 1 + _below(_mix(stream + np.uint64(position) * GOLDEN), window)
    return window


@njit(parallel=True, nogil=True, cache=True)
def count_pairs(playlists, kept, window, forward, shrink, key, pairs):
    """The number of (target, context) pairs ``window_pairs`` writes for each playlist, into ``pairs``."""
    for i in prange(len(kept)):
        n = kept[i]
        stream = _mix(key + np.uint64(playlists[i]) * GOLDEN)
        total = 0
        for j in range(n):
            reach = _reach(window, shrink, stream, j)
            total += min(reach, n - 1 - j)
            if not forward:
                total += min(reach, j)
        pairs[i] = total


@njit(parallel=True, nogil=True, cache=True)
def window_pairs(kept_tokens, starts, kept, playlists, window, forward, shrink, key, pair_starts, targets, contexts):
    """Each token as a target with the tokens up to its reach after it (and, unless ``forward``, before it).

    Its reach is ``window``, or with ``shrink`` word2vec's reduced window: a draw in 1..window per
    token, from the playlist's stream (keyed by its id), so ``count_pairs`` with the same key agrees.
    """
    for i in prange(len(kept)):
        n, first, out = kept[i], starts[i], pair_starts[i]
        stream = _mix(key + np.uint64(playlists[i]) * GOLDEN)
        for j in range(n):
            reach = _reach(window, shrink, stream, j)
            target = kept_tokens[first + j]
            for distance in range(1, min(reach, n - 1 - j) + 1):
                targets[out], contexts[out] = target, kept_tokens[first + j + distance]
                out += 1
            if not forward:
                for distance in range(1, min(reach, j) + 1):
                    targets[out], contexts[out] = target, kept_tokens[first + j - distance]
                    out += 1


@njit(nogil=True, cache=True)
def shuffle_pairs(targets, contexts, key):
    """Fisher-Yates shuffle of the pairs (the same permutation applied to both arrays)."""
    for i in range(len(targets) - 1, 0, -1):
        j = _below(_mix(key + np.uint64(i) * GOLDEN), i + 1)
        targets[i], targets[j] = targets[j], targets[i]
        contexts[i], contexts[j] = contexts[j], contexts[i]


@njit(parallel=True, nogil=True, cache=True)
def draw_negatives(contexts, accept, alias, key):
    """Fill ``contexts[:, 1:]`` with draws from a Walker alias table (``accept`` as ``thresholds``, ``alias``)."""
    rows, width = contexts.shape
    size = len(accept)
    for block in prange((rows + ROWS_PER_STREAM - 1) // ROWS_PER_STREAM):
        stream = _mix(key + np.uint64(block) * GOLDEN)
        counter = np.uint64(0)
        for row in range(block * ROWS_PER_STREAM, min(rows, (block + 1) * ROWS_PER_STREAM)):
            for column in range(1, width):
                x = _mix(stream + counter * GOLDEN)
                counter += np.uint64(1)
                item = _below(x, size)
                contexts[row, column] = item if _draw24(x) < accept[item] else alias[item]
