"""The original tuning notebook's pair generator and retrieval, re-implemented faithfully.

This is the one deliberate copy in the benchmark: the baseline that rows 1 and 2
compare the library against. It follows ``track2vec_tuning_notebook`` line by line:

* ``keras_skipgrams``: Keras 2's ``keras.preprocessing.sequence.skipgrams`` with
  ``negative_samples=0`` (Keras 3 dropped it): for each position ``i`` and each ``j``
  in ``[i - w, i + w]``, ``j != i``, a couple ``[s[i], s[j]]``; id 0 is padding and
  never part of a couple; the couples are then shuffled with Python's ``random``;
* ``word2vec_sampling``: the notebook's ``word2vecSampling``: the positive pairs'
  targets are subsampled with ``(f - t) / f - sqrt(t / f)`` and the negatives drawn
  with ``np.random.choice(V, n, p=...)``, one call per playlist;
* ``track_ns_generator``: ``random.sample`` of ``nbm`` playlists per step, the pairs
  gathered through Python lists.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np


def keras_skipgrams(sequence: list[int], window_size: int) -> tuple[list[list[int]], list[int]]:
    """``keras.preprocessing.sequence.skipgrams(sequence, V, window_size, negative_samples=0)`` (Keras 2.x)."""
    couples, labels = [], []
    for i, wi in enumerate(sequence):
        if not wi:
            continue
        window_start = max(0, i - window_size)
        window_end = min(len(sequence), i + window_size + 1)
        for j in range(window_start, window_end):
            if j != i:
                wj = sequence[j]
                if not wj:
                    continue
                couples.append([wi, wj])
                labels.append(1)
    # shuffle=True (the default): Keras reseeds Python's random to shuffle both lists alike.
    seed = random.randint(0, int(10e6))
    random.seed(seed)
    random.shuffle(couples)
    random.seed(seed)
    random.shuffle(labels)
    return couples, labels


def word2vec_sampling(seq: list[int], window: int, neg_samples: int, neg_sampling_table: np.ndarray,
                      sub_sampling_table: np.ndarray, sub_t: float):
    """The notebook's ``word2vecSampling``: [pairs [n, 2], labels [n]] of one playlist, shuffled."""
    V = len(neg_sampling_table)
    positives = keras_skipgrams(seq, window)
    ppairs = np.array(positives[0])
    if ppairs.shape[0] > 0:
        f = sub_sampling_table[ppairs[:, 0]]
        subprob = ((f - sub_t) / f) - np.sqrt(sub_t / f)
        tokeep = (subprob < np.random.uniform(size=subprob.shape[0])) | (subprob < 0)
        ppairs = ppairs[tokeep, :]
    nbneg = ppairs.shape[0] * neg_samples
    if nbneg > 0:
        negex = np.random.choice(V, nbneg, p=neg_sampling_table)
        negexcontext = np.repeat(ppairs[:, 0], neg_samples)
        npairs = np.transpose(np.stack([negexcontext, negex]))
        pairs = np.concatenate([ppairs, npairs], axis=0)
        labels = np.concatenate([np.repeat(1, ppairs.shape[0]), np.repeat(0, nbneg)])
        perm = np.random.permutation(len(labels))
        res = [pairs[perm, :], labels[perm]]
    else:
        res = [[], []]
    return res


def sampling_tables(counts: np.ndarray, samp_coef: float) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``(st_smooth, st)``: negative-sampling table counts**samp_coef and frequencies."""
    counts = np.asarray(counts, dtype="float")
    st = counts / np.sum(counts)
    st_smooth = np.power(st, samp_coef)
    st_smooth = st_smooth / np.sum(st_smooth)
    return st_smooth, st


def track_ns_generator(corpus_num: list[list[int]], nbm: int, window_width: int, neg_sample: int,
                       st_smooth: np.ndarray, st: np.ndarray, sub_samp: float) -> Iterator:
    """The notebook's ``track_ns_generator``: ``([targets, contexts], labels)`` of ``nbm`` random playlists."""
    while 1:
        result = [word2vec_sampling(batch, window_width, neg_sample, st_smooth, st, sub_samp)
                  for batch in random.sample(corpus_num, nbm)]
        x_temp = np.array([i for fxres in [rot[0] for rot in result if len(rot[0]) > 0] for i in fxres], dtype=np.int32)
        y = np.array([i for fyres in [rot[1] for rot in result if len(rot[1]) > 0] for i in fyres], dtype=np.int32)
        x = [x_temp[:, 0], x_temp[:, 1]]
        yield (x, y)


def kdtree_build(vectors: np.ndarray):
    """The notebook's ``KDTree(vectors_tracks, leaf_size=10, metric='euclidean')``."""
    from sklearn.neighbors import KDTree

    return KDTree(vectors, leaf_size=10, metric="euclidean")


def predict_batch(seeds: np.ndarray, k: int, X: np.ndarray, kdt) -> np.ndarray:
    """The notebook's ``predict_batch``: the k nearest items of each seed, the seed itself dropped."""
    return kdt.query(X[seeds, :], k=k + 1, return_distance=False)[:, 1:]
