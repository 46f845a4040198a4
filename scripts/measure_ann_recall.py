#!/usr/bin/env python
"""Measure the approximate index (``track2vec.ann``) against exact search: recall@10, query time, build time.

The item vectors are an export's (``--model``: ``embeddings.npy``) or synthetic ones
(``--synthetic N``: items around a few thousand centres, as trained vectors gather by genre
and artist, with random lengths). Queries are ``--queries`` items drawn at random, each asking
for its 10 best other items (``recommend``'s ``last`` query: the playlist's item excluded).
Exact search is :func:`track2vec.evaluation.top_k` under plain cosine, as ``recommend``
without an index; recall@10 is the share of the exact top 10 that the index returns.

For each query ``ef`` (``--ef``, at the graph's ``--m`` and ``--ef-construction``) it prints the
recall (mean, and the share of queries with all 10 found), and the milliseconds per query of
both searches, one query at a time as a playlist is completed (the median of
``--single`` queries) and in one batch of all queries.

Usage::

    .venv/bin/python scripts/measure_ann_recall.py --model /tmp/deezer-export --ef 50 100 200 400
    .venv/bin/python scripts/measure_ann_recall.py --synthetic 1000000 --dim 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.ann import AnnIndex, IndexSettings  # noqa: E402
from track2vec.evaluation import top_k  # noqa: E402
from track2vec.export import read_export  # noqa: E402
from track2vec.scoring import score_table  # noqa: E402

K = 10


def synthetic(items: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(items // 500, 1), dim))
    vectors = centres[rng.integers(0, len(centres), items)] + 0.5 * rng.normal(size=(items, dim))
    return (vectors * rng.uniform(0.5, 2.0, (items, 1))).astype(np.float32)


def per_query_ms(search, queries: np.ndarray, exclude: list[np.ndarray], count: int) -> float:
    times = []
    for row in range(min(count, len(queries))):
        started = time.perf_counter()
        search(queries[row:row + 1], [exclude[row]])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="an export directory")
    source.add_argument("--synthetic", type=int, help="this many synthetic item vectors")
    parser.add_argument("--dim", type=int, default=64, help="dimension of the synthetic vectors")
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--single", type=int, default=200, help="queries timed one at a time")
    defaults = IndexSettings()
    parser.add_argument("--m", type=int, default=defaults.m)
    parser.add_argument("--ef-construction", type=int, default=defaults.ef_construction)
    parser.add_argument("--ef", type=int, nargs="+", default=[50, 100, defaults.ef, 400])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.model:
        embeddings = read_export(args.model).embeddings.astype(np.float32)
        what = f"{args.model}"
    else:
        embeddings = synthetic(args.synthetic, args.dim, args.seed)
        what = "synthetic clustered vectors"
    items, dim = embeddings.shape
    rng = np.random.default_rng(args.seed)
    query_ids = rng.choice(items, min(args.queries, items), replace=False)
    exclude = [np.array([q]) for q in query_ids]
    table = score_table("cosine", embeddings, np.ones(items))
    queries = table.queries[query_ids]

    def exact_search(vectors, banned):
        return top_k(table, vectors, K, exclude=banned)[0]

    started = time.perf_counter()
    exact_ids = exact_search(queries, exclude)
    exact_batch = time.perf_counter() - started
    exact_single = per_query_ms(exact_search, queries, exclude, args.single)

    settings = IndexSettings(args.m, args.ef_construction, min(args.ef))
    started = time.perf_counter()
    index = AnnIndex.build(embeddings, settings, seed=args.seed)
    build = time.perf_counter() - started
    print(f"{what}: {items:,} items x {dim}; {len(query_ids):,} queries; index m={args.m}, "
          f"ef_construction={args.ef_construction}: built in {build:.1f} s")
    print(f"exact search: {exact_single:.2f} ms per single query, {1000 * exact_batch / len(query_ids):.3f} ms "
          "per query in one batch")
    print(f"{'ef':>5}  {'recall@10':>9}  {'all 10 found':>12}  {'ms/query single':>15}  {'ms/query batch':>14}  "
          f"{'speed-up single':>15}")
    for ef in sorted(args.ef):
        index.settings = IndexSettings(args.m, args.ef_construction, ef)

        def approximate(vectors, banned):
            return index.top_k(vectors, K, exclude=banned)[0]

        started = time.perf_counter()
        found = approximate(queries, exclude)
        batch = time.perf_counter() - started
        single = per_query_ms(approximate, queries, exclude, args.single)
        hits = np.array([len(np.intersect1d(a, e)) for a, e in zip(found, exact_ids)])
        print(f"{ef:>5}  {hits.mean() / K:>9.4f}  {np.mean(hits == K):>12.1%}  {single:>15.3f}  "
              f"{1000 * batch / len(query_ids):>14.3f}  {exact_single / single:>14.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
