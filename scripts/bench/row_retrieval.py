"""Row 2: retrieval for evaluation, ``top_k`` / ``ranks_of_targets`` against the notebook's KD-tree."""

from __future__ import annotations

import time

import numpy as np

from bench import notebook
from bench.common import RowReport, Settings, alternate, median, paired_ratios, seconds, spread, times

K = 10
TARGET = 100.0


def random_problem(items: int, dim: int, n_queries: int, seed: int = 0):
    """A random embedding, distinct query items and a random answer for each (for ``ranks_of_targets``)."""
    rng = np.random.default_rng(seed)
    embeddings = rng.standard_normal((items, dim)).astype(np.float32)
    queries = rng.choice(items, n_queries, replace=False)
    answers = (queries + rng.integers(1, items, n_queries)) % items  # never the query itself
    return embeddings, queries, np.stack([queries, answers], axis=1)


def query_chunks(n_queries: int, per_round: int, rounds: int) -> list[slice]:
    """Disjoint slices of the queries, one per round, wrapping around if the rounds ask for more than all."""
    per_round = min(per_round, n_queries)
    chunks = []
    for index in range(rounds):
        start = (index * per_round) % n_queries
        chunks.append(slice(start, min(start + per_round, n_queries)))
    return chunks


def agreement(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """Fractions of identical top-k lists: (same items in the same order, same set of items)."""
    same_order = (ours == theirs).all(axis=1)
    same_set = np.array([set(a) == set(b) for a, b in zip(ours.tolist(), theirs.tolist())])
    return float(same_order.mean()), float(same_set.mean())


TIE = 1e-6  # float32 cosines are exact to about 1e-7: items closer than this cannot be ordered reliably


def same_up_to_ties(unit: np.ndarray, queries: np.ndarray, ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Per query: both lists have the same float64 cosine at every position, within ``TIE``.

    Two exact methods may order near-tied items differently (float32 products vs float64
    distances); such lists differ in ids but not in quality.
    """
    exact = unit.astype(np.float64)
    scores = lambda ids: np.einsum("qkd,qd->qk", exact[ids], exact[queries])
    return (np.abs(scores(ours) - scores(theirs)) <= TIE).all(axis=1)


def run(settings: Settings) -> RowReport:
    from track2vec.evaluation import normalize, ranks_of_targets, top_k

    report = RowReport(2, "Retrieval for evaluation: top_k / ranks_of_targets vs the notebook's KD-tree")
    n, items, dim = settings.retrieval_queries, settings.retrieval_items, settings.retrieval_dim
    embeddings, queries, pairs = random_problem(items, dim, n)
    unit = normalize(embeddings)
    exclude = [np.array([q]) for q in queries]
    chunks = query_chunks(n, settings.kdtree_queries_per_round, settings.rounds)
    kdtree_ids: dict[int, np.ndarray] = {}
    ours_ids: list[np.ndarray] = []
    chunk_index = iter(range(len(chunks)))

    def ours_top_k():
        ours_ids[:] = [top_k(embeddings, embeddings[queries], K, exclude=exclude)[0]]

    def kdtree():
        index = next(chunk_index)
        started = time.perf_counter()
        tree = notebook.kdtree_build(unit)
        built = time.perf_counter()
        kdtree_ids[index] = notebook.predict_batch(queries[chunks[index]], K, unit, tree)
        queried = time.perf_counter()
        return built - started, queried - built

    samples = alternate({"top_k": ours_top_k, "ranks_of_targets": lambda: ranks_of_targets(embeddings, pairs),
                         "kdtree": kdtree}, settings.rounds)
    sizes = [c.stop - c.start for c in chunks]
    builds = [s.value[0] for s in samples["kdtree"]]
    per_query = [s.value[1] / size for s, size in zip(samples["kdtree"], sizes)]
    kdtree_totals = [build + q * n for build, q in zip(builds, per_query)]  # build + all n queries
    top_k_seconds = [s.seconds for s in samples["top_k"]]
    ranks_seconds = [s.seconds for s in samples["ranks_of_targets"]]
    covered = len({q for c in chunks for q in range(c.start, c.stop)})
    how = (f"KD-tree measured on all {n:,} queries" if covered == n else
           f"KD-tree timed on {covered:,} of {n:,} queries ({settings.rounds} chunks of {sizes[0]:,}), "
           "extrapolated linearly")

    ratio = median(paired_ratios(kdtree_totals, top_k_seconds))
    report.add(f"top-{K} lists, {n:,} queries x {items:,} items x {dim}", seconds(median(top_k_seconds)),
               seconds(median(kdtree_totals)), times(ratio), f">= {TARGET:.0f}x faster", ratio >= TARGET, how)
    ratio = median(paired_ratios(kdtree_totals, ranks_seconds))
    report.add(f"ranks of {n:,} answers (evaluate's path)", seconds(median(ranks_seconds)),
               seconds(median(kdtree_totals)), times(ratio), f">= {TARGET:.0f}x faster", ratio >= TARGET, how)

    compared = sorted(kdtree_ids)
    ours_lists = np.concatenate([ours_ids[0][chunks[i]] for i in compared])
    kdtree_lists = np.concatenate([kdtree_ids[i] for i in compared])
    same_order, same_set = agreement(ours_lists, kdtree_lists)
    tied = same_up_to_ties(unit, np.concatenate([queries[chunks[i]] for i in compared]), ours_lists, kdtree_lists)
    report.add(f"identical top-{K} lists up to ties (of {covered:,} queries)", f"{tied.mean():.2%}", "", "", "100%",
               bool(tied.all()), f"identical ids in order: {same_order:.2%}, same set: {same_set:.2%}; "
               f"ties: cosines within {TIE:g}")

    report.detail(f"random {items:,} x {dim} float32 embedding (seed 0), {n:,} distinct query items; KD-tree on "
                  "L2-normalised vectors (leaf_size=10, euclidean), rebuilt each round as the notebook does")
    report.detail(f"ours top_k          {spread(top_k_seconds, '{:.3g}')} s")
    report.detail(f"ours ranks_of_targets {spread(ranks_seconds, '{:.3g}')} s")
    report.detail(f"KD-tree build       {spread(builds, '{:.3g}')} s")
    report.detail(f"KD-tree per query   {spread([q * 1e3 for q in per_query], '{:.3g}')} ms")
    report.detail(f"KD-tree build + {n:,} queries {spread(kdtree_totals, '{:.4g}')} s ({how})")
    return report
