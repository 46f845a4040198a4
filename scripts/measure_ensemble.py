"""Validation NDCG@10 of exported models alone and of the ensemble that ``track2vec.ensemble`` selects from them.

The exports must come from one corpus (the same data, ``--min-count`` and seed as given here), e.g. two
``track2vec train --out`` runs of different configurations. Only the validation pairs are scored.

    python scripts/measure_ensemble.py --data ../shared/data/nowplaying_sessions.txt EXPORT [EXPORT ...]
                                       [--scoring target-context] [--min-count 2] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from track2vec.corpus import DEFAULT_MIN_COUNT, DEFAULT_TEST_PAIRS, DEFAULT_VALIDATION_PAIRS, build_corpus
from track2vec.data.loaders import load_playlists
from track2vec.ensemble import best_scoring, select_ensemble
from track2vec.export import read_export
from track2vec.scoring import SCORINGS, Vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path, help="export directories, the best model first")
    parser.add_argument("--data", required=True)
    parser.add_argument("--scoring", choices=SCORINGS, default="target-context")
    parser.add_argument("--min-count", type=int, default=DEFAULT_MIN_COUNT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus = build_corpus(load_playlists(args.data, args.seed), args.min_count, DEFAULT_VALIDATION_PAIRS,
                          DEFAULT_TEST_PAIRS, args.seed)
    models = []
    for path in args.exports:
        exported = read_export(path)
        if list(exported.vocabulary.items) != list(corpus.vocabulary.items):
            raise SystemExit(f"{path}: trained on another vocabulary than {args.data} with these settings")
        models.append(Vectors(exported.embeddings, exported.context_embeddings, exported.context_bias))
    pairs = corpus.validation_pairs
    for path, vectors in zip(args.exports, models):
        scoring, score = best_scoring(vectors, args.scoring, corpus.counts, pairs)
        print(f"{path}: dim {vectors.dim}, validation NDCG@10 {score:.4f} ({scoring.describe()})")
    selection = select_ensemble(models, args.scoring, corpus.counts, pairs)
    names = " + ".join(str(args.exports[index]) for index in selection.members)
    print(f"ensemble {names}: dim {selection.vectors.dim}, validation NDCG@10 {selection.validation_ndcg:.4f} "
          f"({selection.scoring.describe()})")


if __name__ == "__main__":
    main()
