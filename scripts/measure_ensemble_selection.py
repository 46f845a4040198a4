#!/usr/bin/env python
"""The ensemble selection's cost: the members' summed validation scores kept, against scoring each candidate
joined with the members as one model (what ``select_ensemble`` does beyond ``MAX_SUMMED_SCORES_BYTES``).

Synthetic candidates of one vocabulary: each is a noisy copy of one low-rank "true" model whose own
top item is every validation pair's answer, so averaging them ranks better and every candidate joins up to
``MAX_MEMBERS``, the case where scoring the joined model grows most. Both ways run the same selection on the same
candidates; printed side by side: seconds, peak NumPy memory (``tracemalloc``), the members chosen and
validation NDCG@10, and the ratio of the seconds.

Usage (the default is #nowplaying's vocabulary with the trials' floor of validation pairs)::

    .venv/bin/python scripts/measure_ensemble_selection.py [--items 43722] [--pairs 2000] [--candidates 16]
        [--dim 96] [--method target-context] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.ensemble import MAX_MEMBERS, select_ensemble  # noqa: E402
from track2vec.scoring import CONTEXT_SCORINGS, SCORINGS, Vectors  # noqa: E402


def synthetic(items: int, pairs: int, candidates: int, dim: int, seed: int):
    """(counts, validation pairs, candidate models): noisy copies of a rank-``dim`` model whose best-scored item
    for each pair's query is the pair's answer."""
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(items, dim)).astype(np.float32)
    contexts = rng.normal(size=(items, dim)).astype(np.float32)
    queries = rng.choice(items, size=pairs, replace=False)
    scores = targets[queries] @ contexts.T
    scores[np.arange(pairs), queries] = -np.inf
    truth = np.stack([queries, scores.argmax(axis=1)], axis=1)
    counts = np.ones(items, dtype=np.int64)  # no popularity to learn: the ranking is the vectors'
    noise = 1.0
    models = [Vectors(targets + rng.normal(scale=noise, size=targets.shape).astype(np.float32),
                      contexts + rng.normal(scale=noise, size=contexts.shape).astype(np.float32),
                      np.zeros(items, dtype=np.float32))
              for _ in range(candidates)]
    return counts, truth, models


def timed_selection(models, method, counts, pairs, max_summed_scores_bytes: int | None):
    options = {} if max_summed_scores_bytes is None else {"max_summed_scores_bytes": max_summed_scores_bytes}
    tracemalloc.start()
    started = time.perf_counter()
    selection = select_ensemble(models, method, counts, pairs, **options)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return selection, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=43_722)
    parser.add_argument("--pairs", type=int, default=2_000)
    parser.add_argument("--candidates", type=int, default=MAX_MEMBERS)
    parser.add_argument("--dim", type=int, default=96)
    parser.add_argument("--method", choices=SCORINGS, default=CONTEXT_SCORINGS[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if min(args.items, args.pairs, args.candidates, args.dim) < 1 or args.pairs > args.items:
        raise SystemExit("--items, --pairs, --candidates and --dim must be >= 1, and --pairs <= --items")
    counts, pairs, models = synthetic(args.items, args.pairs, args.candidates, args.dim, args.seed)
    print(f"{args.candidates} candidates of dim {args.dim}, {args.items:,} items, {args.pairs:,} validation pairs, "
          f"{args.method}, seed {args.seed}")
    warm_counts, warm_pairs, warm_models = synthetic(64, 8, 2, 4, args.seed)
    select_ensemble(warm_models, args.method, warm_counts, warm_pairs)  # loads the compiled ranking kernel
    results = {}
    for label, budget in (("summed scores kept", None), ("joined model scored", 0)):
        selection, seconds, peak = timed_selection(models, args.method, counts, pairs, budget)
        results[label] = seconds
        print(f"{label:>20}: {seconds:7.1f} s, peak {peak / 2**20:7.0f} MiB, {len(selection.members)} members, "
              f"validation NDCG@10 {selection.validation_ndcg:.4f} ({selection.scoring.describe()})")
    print(f"joined / summed seconds: {results['joined model scored'] / results['summed scores kept']:.2f}x")


if __name__ == "__main__":
    main()
