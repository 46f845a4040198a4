#!/usr/bin/env python
"""Do other counts of the training playlists say more about the next item than SR and AR? (issue 12)

A trained embedding can only rank by what the training playlists hold. Where no count of them
passes AR on the validation pairs, AR is near what the corpus says about a query, and an
embedding can at best match it there. This asks three counts that SR and AR leave out:

* ``ar-20``, ``ar-50``, ``ar-all``: AR's co-occurrence, with its fitted weighting of distance, over
  longer distances (``all``: the whole playlist) than the 10 steps every study's AR may choose;
* ``playlist-cosine``: item-to-item cosine of the playlist-by-item matrix (two items score by the
  playlists holding both, wherever they stand: item-based collaborative filtering);
* each of them added to the fitted AR (``log(1 + AR) + w * log(1 + other)``, or ``+ w * cosine``)
  at a few weights, the best shown with its weight.

Ranked as the baselines are (``track2vec.baselines.ranks_by_rules``: by score, then popularity).
Validation pairs only: nothing here looks at the test pairs.

Usage::

    .venv/bin/python scripts/measure_count_signals.py --data ../shared/data/ecommerce_sessions.npy --seeds 0,1
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.common import corpora_with_counts, count_probe_arguments  # noqa: E402
from track2vec.baselines import WEIGHTINGS, positions_at, ranks_by_rules, token_playlists  # noqa: E402
from track2vec.evaluation import metrics_from_ranks  # noqa: E402

DISTANCES = (20, 50, None)  # None: the whole playlist
WEIGHTS = (0.03, 0.1, 0.3, 1.0)


def query_rows(matrix: sp.spmatrix, queries: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with only the rows of ``queries`` kept (a pair's rank reads its query's row alone)."""
    keep = sp.diags(np.isin(np.arange(matrix.shape[0]), queries).astype(np.float64))
    return sp.csr_matrix(keep @ matrix)


def cooccurrence(tokens: np.ndarray, offsets: np.ndarray, size: int, queries: np.ndarray,
                 max_distance: int | None, weighting: str) -> sp.csr_matrix:
    """Co-occurrence at distances 1..``max_distance`` in both directions, each weighted as ``weighting``
    weighs its distance (``track2vec.baselines.WEIGHTINGS``), in the queries' rows."""
    playlist_of = token_playlists(offsets)
    longest = int(np.diff(offsets).max()) - 1
    wanted = np.zeros(size, dtype=bool)
    wanted[queries] = True
    rows, columns, weights = [], [], []
    for distance in range(1, min(max_distance or longest, longest) + 1):
        inside = positions_at(playlist_of, distance)
        a, b = tokens[inside], tokens[inside + distance]
        for query, other in ((a, b), (b, a)):
            kept = wanted[query]
            rows.append(query[kept])
            columns.append(other[kept])
            weights.append(np.full(int(kept.sum()), WEIGHTINGS[weighting](distance)))
    matrix = sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))), shape=(size, size))
    matrix.sum_duplicates()
    return matrix


def playlist_cosine(tokens: np.ndarray, offsets: np.ndarray, size: int, queries: np.ndarray) -> sp.csr_matrix:
    """Cosine between items' playlist sets (binary playlist-by-item matrix), in the queries' rows."""
    playlist_of = token_playlists(offsets)
    holds = sp.csr_matrix((np.ones(len(tokens)), (playlist_of, tokens)), shape=(len(offsets) - 1, size))
    holds.data[:] = 1.0  # a playlist holding an item twice holds it once
    norms = np.sqrt(np.asarray(holds.sum(axis=0)).ravel())
    both = query_rows(holds.T.tocsr(), queries) @ holds
    inverse = sp.diags(1.0 / np.maximum(norms, 1e-12))
    return sp.csr_matrix(inverse @ both @ inverse)


def ndcg(scores: sp.spmatrix, pairs: np.ndarray) -> float:
    scores = sp.csr_matrix(scores)
    scores.eliminate_zeros()
    return metrics_from_ranks(ranks_by_rules(scores, pairs)).ndcg


def main() -> None:
    args = count_probe_arguments(__doc__.split("\n\n")[0])
    print(f"{args.data}: validation NDCG@10 alone, and added to the fitted AR at its best weight")
    for seed, corpus, fitted in corpora_with_counts(args.data, args.seeds):
        size, pairs = len(corpus.vocabulary), corpus.validation_pairs
        queries = np.unique(pairs[:, 0])
        ar_steps = fitted["ar"].settings["steps"]
        print(f"seed {seed}: SR {fitted['sr'].validation.ndcg:.4f}, AR {fitted['ar'].validation.ndcg:.4f} "
              f"({ar_steps} steps, {fitted['ar'].settings['weighting']})", flush=True)
        weighting = fitted["ar"].settings["weighting"]
        ar = cooccurrence(corpus.tokens, corpus.offsets, size, queries, ar_steps, weighting)
        print(f"  {'ar (as fitted)':<16} alone {ndcg(ar, pairs):.4f}", flush=True)
        log_ar = ar.log1p()
        others = {f"ar-{d}" if d else "ar-all": cooccurrence(corpus.tokens, corpus.offsets, size, queries, d, weighting)
                  for d in DISTANCES}
        others["playlist-cosine"] = playlist_cosine(corpus.tokens, corpus.offsets, size, queries)
        for name, other in others.items():
            term = other if name == "playlist-cosine" else other.log1p()
            summed = max((ndcg(log_ar + weight * term, pairs), weight) for weight in WEIGHTS)
            print(f"  {name:<16} alone {ndcg(other, pairs):.4f}   AR + it {summed[0]:.4f} (weight {summed[1]:g})",
                  flush=True)


if __name__ == "__main__":
    main()
