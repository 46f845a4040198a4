#!/usr/bin/env python
"""Measure how a playlist should become a query for ``track2vec recommend``.

For each corpus, architecture and seed: train a model (paper setting by default:
dim 50, window 3, negatives 5, alpha 1.0, subsample 1e-3), then take every
validation playlist (one whose (next-to-last, last) pair is in
``corpus.validation_pairs``), hide its last item, build the query from the rest
with each strategy (``last``, ``mean``, ``recency`` at several decays) through
:class:`track2vec.recommend.Recommender`, and score the rank of the hidden item by
NDCG@10 / HR@10.

Ranking is the tool's: every item of the visible playlist is excluded from the
candidates, so a hidden item that already occurs earlier in the playlist counts
as a miss (its share is printed as "in prefix"). As a check, ``last`` is also
scored the evaluation protocol's way (only the query item excluded); it must equal
the trainer's validation NDCG.

corpus.py does not expose which playlist a validation pair came from; the split
is replayed here with the same seed and checked against the corpus' pairs.

Usage::

    .venv/bin/python scripts/measure_query_strategy.py \\
        --data builtin --data /work/shared/data/ecommerce_sessions.npy --epochs 5 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.corpus import Corpus, build_corpus  # noqa: E402
from track2vec.data.loaders import Playlists, load_playlists  # noqa: E402
from track2vec.evaluation import evaluate, metrics_from_ranks  # noqa: E402
from track2vec.recommend import Recommender  # noqa: E402

DEFAULT_DECAYS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
K = 10
MISS = np.iinfo(np.int64).max // 2


def validation_playlists(playlists: Playlists, corpus: Corpus) -> np.ndarray:
    """Indices (into ``playlists.items``) of the playlists behind ``corpus.validation_pairs``, in order.

    Replays :func:`track2vec.corpus.build_corpus`'s split: eligible playlists (3+ items)
    whose last two items are known and differ, permuted by ``default_rng(seed)``.
    """
    lengths = np.array([len(p) for p in playlists.items], dtype=np.int64)
    last_two = np.array([p[-2:] if len(p) >= 2 else ["", ""] for p in playlists.items], dtype=str)
    ids = corpus.vocabulary.encode(last_two.ravel()).reshape(-1, 2)
    eligible = np.flatnonzero(lengths >= 3)
    pairs = ids[eligible]
    usable = eligible[(pairs >= 0).all(axis=1) & (pairs[:, 0] != pairs[:, 1])]
    order = np.random.default_rng(corpus.seed).permutation(len(usable))
    chosen = usable[order][: len(corpus.validation_pairs)]
    if not np.array_equal(ids[chosen], corpus.validation_pairs):
        raise SystemExit("could not replay the validation split: corpus.py changed how it draws pairs")
    return chosen


def ranks(recommender: Recommender, prefixes: list[list[str]], targets: np.ndarray, query: str, decay: float,
          exclude_all: bool = True) -> np.ndarray:
    """0-based rank of each target among non-excluded items (MISS where the target itself is excluded)."""
    vectors, known = recommender.query_vectors(prefixes, query, decay)
    queries = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unit = recommender.unit
    out = np.empty(len(targets), dtype=np.int64)
    block = 512
    for start in range(0, len(targets), block):
        stop = min(start + block, len(targets))
        scores = queries[start:stop] @ unit.T
        rows = np.arange(stop - start)
        if exclude_all:
            banned = [known[i] for i in range(start, stop)]
        else:  # the evaluation protocol: only the query (last visible) item
            banned = [np.array([recommender._index[prefixes[i][-1]]]) for i in range(start, stop)]
        row_index = np.repeat(rows, [len(b) for b in banned])
        scores[row_index, np.concatenate(banned)] = -np.inf
        true = scores[rows, targets[start:stop]]
        out[start:stop] = np.where(np.isneginf(true), MISS, (scores > true[:, None]).sum(axis=1))
    return out


def train(corpus: Corpus, architecture: str, args, seed: int) -> np.ndarray:
    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    config = TrainConfig(architecture=architecture, dim=args.dim, window=args.window, negatives=args.negatives,
                         alpha=args.alpha, subsample=args.subsample, epochs=args.epochs, seed=seed)
    trainer = Trainer(corpus, config)
    trainer.fit()
    return trainer.embeddings()


def measure(spec: str, architecture: str, seed: int, args) -> dict:
    started = time.perf_counter()
    playlists = load_playlists(spec, seed)
    corpus = build_corpus(playlists, args.min_count, args.validation_pairs, args.validation_pairs, seed)
    chosen = validation_playlists(playlists, corpus)
    embeddings = train(corpus, architecture, args, seed)
    recommender = Recommender(embeddings, corpus.vocabulary.items, corpus.vocabulary.artists)
    prefixes = [playlists.items[i][:-1] for i in chosen]
    targets = corpus.validation_pairs[:, 1].astype(np.int64)
    in_prefix = float(np.mean([playlists.items[i][-1] in set(playlists.items[i][:-1]) for i in chosen]))

    protocol = metrics_from_ranks(ranks(recommender, prefixes, targets, "last", 0.0, exclude_all=False), K)
    reference = evaluate(embeddings, corpus.validation_pairs, K)
    assert abs(protocol.ndcg - reference.ndcg) < 1e-4, (protocol, reference)

    strategies = [("last", 0.0)] + [("recency", d) for d in args.decays] + [("mean", 1.0)]
    rows = {}
    baseline = None
    for query, decay in strategies:
        name = query if query != "recency" else f"recency {decay:g}"
        r = ranks(recommender, prefixes, targets, query, decay)
        gains = np.where(r < K, 1.0 / np.log2(np.minimum(r, 1 << 30) + 2.0), 0.0)
        if baseline is None:
            baseline = gains
        diff = gains - baseline
        rows[name] = {
            "ndcg": float(gains.mean()), "hr": float((r < K).mean()),
            "delta_vs_last": float(diff.mean()), "delta_se": float(diff.std(ddof=1) / np.sqrt(len(diff))),
        }
    return {
        "data": spec, "architecture": architecture, "seed": seed, "epochs": args.epochs,
        "playlists": len(chosen), "mean_prefix_length": float(np.mean([len(p) for p in prefixes])),
        "target_in_prefix": in_prefix, "protocol_last_ndcg": protocol.ndcg, "protocol_last_hr": protocol.hit_rate,
        "strategies": rows, "seconds": time.perf_counter() - started,
    }


def print_table(results: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        groups.setdefault((result["data"], result["architecture"]), []).append(result)
    for (data, architecture), runs in groups.items():
        first = runs[0]
        print(f"\n{Path(data).name if '/' in data else data}  {architecture}  seeds {[r['seed'] for r in runs]}  "
              f"{first['epochs']} epochs  {first['playlists']} validation playlists  "
              f"mean prefix {first['mean_prefix_length']:.1f} items  "
              f"hidden item in prefix {np.mean([r['target_in_prefix'] for r in runs]):.1%}")
        print(f"  protocol (last, only query excluded): NDCG@{K} {np.mean([r['protocol_last_ndcg'] for r in runs]):.4f}  "
              f"HR@{K} {np.mean([r['protocol_last_hr'] for r in runs]):.4f}")
        print(f"  {'query':<14}{'NDCG@10':>9}{'HR@10':>9}   {'NDCG vs last (±se per seed)':<30}")
        for name in first["strategies"]:
            cells = [r["strategies"][name] for r in runs]
            deltas = "  ".join(f"{c['delta_vs_last']:+.4f}±{c['delta_se']:.4f}" for c in cells)
            print(f"  {name:<14}{np.mean([c['ndcg'] for c in cells]):>9.4f}{np.mean([c['hr'] for c in cells]):>9.4f}   {deltas}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", help="corpus spec (repeatable; default: builtin)")
    parser.add_argument("--architectures", nargs="+", default=["sgns", "tied-cosine"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--subsample", type=float, default=1e-3)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--validation-pairs", type=int, default=10_000)
    parser.add_argument("--decays", nargs="+", type=float, default=list(DEFAULT_DECAYS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json-out", type=Path, default=None, help="also write all results as JSON")
    args = parser.parse_args(argv)

    from track2vec.runtime import configure_backend

    configure_backend(args.threads)
    results = []
    for spec in args.data or ["builtin"]:
        for architecture in args.architectures:
            for seed in args.seeds:
                result = measure(spec, architecture, seed, args)
                print(f"done {spec} {architecture} seed {seed} in {result['seconds']:.0f} s", file=sys.stderr, flush=True)
                results.append(result)
    print_table(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
