"""Playlist completion: suggest the next tracks of a playlist from exported embeddings.

Pure NumPy on an export directory (``embeddings.npy``, ``vocabulary.tsv``,
``model.json``); TensorFlow and Keras are never imported, so start-up is fast.
Exports of either architecture (``sgns``, ``tied-cosine``) work the same way: the
exported item vectors are compared by cosine similarity.

How a playlist becomes a query
    Every item of the playlist that the model knows contributes its unit-length
    vector; the query is their weighted sum (its length does not matter: scores
    are cosines).

    * ``last``: only the last known item (the evaluation protocol's query);
    * ``mean``: all known items with equal weight;
    * ``recency``: item at distance ``d`` from the end of the playlist (the last
      item has ``d = 0``, unknown items still count as positions) gets weight
      ``decay ** d``; ``decay = 0`` is ``last``, ``decay = 1`` is ``mean``.

    Suggestions never include an item of the playlist, and items unknown to the
    model are reported rather than fatal unless none is known.

Choosing the default (``scripts/measure_query_strategy.py``)
    Each validation playlist (one whose (next-to-last, last) pair is a validation
    pair; 1,378-1,387 on builtin, 2,065 on ecommerce, mean 19.7 and 95.5 visible
    items) is given with its last item hidden, and the tool's ranking (every
    visible item excluded) is scored by NDCG@10 (HR@10) of the hidden item. Paper
    setting: dim 50, window 3, negatives 5, alpha 1.0, subsample 1e-3, min count
    2, 5 epochs; mean of seeds 0 and 1 (a rerun of seed 0 after the trainer moved
    to XLA batches and alias-method negatives gives the same picture)::

        query          builtin sgns     builtin tied     ecommerce sgns   ecommerce tied
        last           0.0837 (0.1367)  0.0752 (0.1295)  0.1153 (0.1680)  0.1228 (0.1695)
        recency 0.2    0.0755 (0.1259)  0.0744 (0.1280)  0.1170 (0.1700)  0.1245 (0.1726)
        recency 0.3    0.0681 (0.1179)  0.0715 (0.1226)  0.1173 (0.1717)  0.1246 (0.1743)
        recency 0.4    0.0595 (0.1081)  0.0683 (0.1179)  0.1164 (0.1705)  0.1249 (0.1765)
        recency 0.5    0.0489 (0.0944)  0.0605 (0.1107)  0.1122 (0.1671)  0.1228 (0.1736)
        recency 0.7    0.0285 (0.0561)  0.0403 (0.0756)  0.0910 (0.1482)  0.1032 (0.1598)
        recency 0.9    0.0155 (0.0315)  0.0200 (0.0416)  0.0552 (0.0949)  0.0586 (0.1031)
        mean           0.0122 (0.0235)  0.0137 (0.0271)  0.0319 (0.0581)  0.0310 (0.0591)

    ``last`` is the default. On builtin, whose generator is a first-order Markov
    chain, it is best for both architectures, clearly with sgns (paired difference
    of recency 0.3: -0.013 to -0.017 NDCG@10, 4 to 5 standard errors; recency 0.2
    roughly ties with tied-cosine). On ecommerce, recency 0.2 and 0.3 beat ``last``
    in all eight runs (the four above, seed 0 trained 10 epochs, seed 0 on the later
    faster trainer), but only by +0.001 to +0.004 NDCG@10 (0.6 to 2.4 standard
    errors each): ``--query recency`` (default decay 0.3, the best decay there) may
    suit session-like data, but that small gain does not outweigh the clear loss on
    builtin. ``mean`` is the worst everywhere: a long playlist's centre is far from
    where it is now. Excluding the playlist costs hits whenever the hidden item
    already occurs in it (9 % of builtin and 37 % of ecommerce validation
    playlists): ``last`` scores 0.109 / 0.089 / 0.155 / 0.165 NDCG@10 when only the
    query item is excluded, as in the trainer's validation metric.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from track2vec.errors import ConfigError, DataError, Track2VecError
from track2vec.evaluation import normalize, top_k
from track2vec.export import read_export

QUERY_STRATEGIES = ("last", "mean", "recency")
DEFAULT_QUERY = "last"
DEFAULT_DECAY = 0.3
DEFAULT_K = 10


@dataclass(frozen=True)
class Suggestion:
    """One suggested next item: its cosine ``score`` to the query and its artist (None when unknown)."""

    item: str
    score: float
    artist: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def query_weights(positions: np.ndarray, length: int, query: str, decay: float) -> np.ndarray:
    """Weights of the known items at ``positions`` (0-based, ascending) of a playlist of ``length`` items."""
    positions = np.asarray(positions, dtype=np.int64)
    weights = np.zeros(len(positions), dtype=np.float64)
    if len(positions) == 0:
        return weights
    if query == "last":
        weights[-1] = 1.0
    elif query == "mean":
        weights[:] = 1.0
    elif query == "recency":
        weights = np.power(float(decay), (length - 1 - positions).astype(np.float64))
        if not weights.any():  # decay 0 and the last item unknown: fall back to the last known one
            weights[-1] = 1.0
    else:
        raise ConfigError(f"unknown query strategy {query!r} (choose from {', '.join(QUERY_STRATEGIES)})")
    return weights


def check_query(query: str, decay: float) -> None:
    if query not in QUERY_STRATEGIES:
        raise ConfigError(f"unknown query strategy {query!r} (choose from {', '.join(QUERY_STRATEGIES)})")
    if not (0.0 <= decay <= 1.0):
        raise ConfigError(f"decay must be between 0 and 1, got {decay}")


class Recommender:
    """Completes playlists with the nearest items (cosine) to a query built from the playlist."""

    def __init__(
        self,
        embeddings: np.ndarray,
        items: np.ndarray,
        artists: np.ndarray | None = None,
        query: str = DEFAULT_QUERY,
        decay: float = DEFAULT_DECAY,
        info: dict | None = None,
    ) -> None:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or len(embeddings) != len(items):
            raise DataError(f"embeddings of shape {embeddings.shape} do not match {len(items)} vocabulary items")
        if len(items) == 0:
            raise DataError("the model has an empty vocabulary")
        check_query(query, decay)
        self.unit = normalize(embeddings)
        self.items = np.asarray(items, dtype=str)
        self.artists = None if artists is None else np.asarray(artists, dtype=str)
        self.query = query
        self.decay = float(decay)
        self.info = info or {}
        self._index = {item: index for index, item in enumerate(self.items.tolist())}

    @classmethod
    def from_export(cls, path: str | Path, query: str = DEFAULT_QUERY, decay: float = DEFAULT_DECAY) -> "Recommender":
        """Load an export directory written by ``track2vec train --out``; DataError if it is not one."""
        export = read_export(Path(path))
        if export.embeddings.ndim != 2 or not np.issubdtype(export.embeddings.dtype, np.floating):
            raise DataError(f"{path}: embeddings.npy is not a 2-D float array")
        vocabulary = export.vocabulary
        return cls(export.embeddings, vocabulary.items, vocabulary.artists, query, decay, export.info)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self._index

    def unknown(self, playlist: list[str]) -> list[str]:
        """The items of ``playlist`` that the model does not know, in order (duplicates kept once)."""
        return list(dict.fromkeys(item for item in playlist if item not in self._index))

    def _encode(self, playlist: list[str], number: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        positions, ids = [], []
        for position, item in enumerate(playlist):
            index = self._index.get(item)
            if index is not None:
                positions.append(position)
                ids.append(index)
        if not ids:
            where = "the playlist" if number is None else f"playlist {number + 1}"
            if not playlist:
                raise DataError(f"{where} is empty")
            raise DataError(f"none of the {len(playlist)} items of {where} is known to the model")
        return np.asarray(positions, dtype=np.int64), np.asarray(ids, dtype=np.int64)

    def query_vectors(self, playlists: list[list[str]], query: str | None = None, decay: float | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Query vectors [n, dim] of ``playlists`` and each playlist's known item ids."""
        query = self.query if query is None else query
        decay = self.decay if decay is None else decay
        check_query(query, decay)
        all_ids, all_weights, starts = [], [], []
        known_ids = []
        total = 0
        for number, playlist in enumerate(playlists):
            positions, ids = self._encode(list(playlist), number)
            weights = query_weights(positions, len(playlist), query, decay)
            starts.append(total)
            total += len(ids)
            all_ids.append(ids)
            all_weights.append(weights)
            known_ids.append(np.unique(ids))
        if not playlists:
            return np.zeros((0, self.unit.shape[1]), dtype=np.float32), []
        ids = np.concatenate(all_ids)
        weights = np.concatenate(all_weights).astype(np.float32)
        vectors = np.add.reduceat(self.unit[ids] * weights[:, None], np.asarray(starts), axis=0)
        return vectors, known_ids

    def complete_many(self, playlists: list[list[str]], k: int = DEFAULT_K, query: str | None = None,
                      decay: float | None = None) -> list[list[Suggestion]]:
        """The ``k`` best next items of each playlist, best first, by one batched similarity search.

        Items of a playlist are never suggested for it; unknown items are ignored
        (see :meth:`unknown`); a playlist with no known item raises DataError.
        Fewer than ``k`` suggestions come back only when the vocabulary runs out.
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        vectors, known_ids = self.query_vectors(playlists, query, decay)
        if not len(vectors):
            return []
        width = min(int(k), len(self.items))
        ids, scores = top_k(self.unit, vectors, width, exclude=known_ids)
        results = []
        for row_ids, row_scores in zip(ids.tolist(), scores.tolist()):
            suggestions = []
            for index, score in zip(row_ids, row_scores):
                if score == float("-inf"):
                    break  # only playlist items were left
                artist = self.artists[index] if self.artists is not None else ""
                suggestions.append(Suggestion(str(self.items[index]), float(score), str(artist) or None))
            results.append(suggestions)
        return results

    def complete(self, playlist: list[str], k: int = DEFAULT_K, query: str | None = None,
                 decay: float | None = None) -> list[Suggestion]:
        """The ``k`` best next items of ``playlist``, best first (see :meth:`complete_many`)."""
        return self.complete_many([list(playlist)], k, query, decay)[0]


# ---------------------------------------------------------------- command line
# ``track2vec recommend`` (track2vec/cli.py) uses these; ``python -m track2vec.recommend``
# runs the same command without importing the training stack (Keras) first.


def add_recommend_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", type=Path, required=True, help="export directory written by train --out")
    parser.add_argument("--playlist", required=True,
                        help="the playlist's items separated by spaces, or - to read playlists from "
                             "standard input, one per line")
    parser.add_argument("-k", type=int, default=DEFAULT_K, help="number of suggestions")
    parser.add_argument("--query", choices=QUERY_STRATEGIES, default=DEFAULT_QUERY,
                        help="last: the last known item; mean: all known items alike; "
                             "recency: weights decay**(distance from the end)")
    parser.add_argument("--decay", type=float, default=DEFAULT_DECAY, help="decay of --query recency")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per playlist: playlist, unknown, query, suggestions")
    return parser


def _read_playlists(spec: str, stdin) -> list[tuple[str, list[str]]]:
    """(label for messages, items) of the playlist in ``spec``, or of each non-blank stdin line for ``-``."""
    if spec != "-":
        items = spec.split()
        if not items:
            raise DataError("the playlist is empty")
        return [("", items)]
    numbered = [(f"line {number}: ", line.split()) for number, line in enumerate(stdin, 1)]
    numbered = [(label, items) for label, items in numbered if items]
    if not numbered:
        raise DataError("no playlist on standard input")
    return numbered


def run_recommend(args: argparse.Namespace, stdout=None, stderr=None, stdin=None) -> int:
    """Print the suggestions of ``args.playlist``: ``item<TAB>score[<TAB>artist]`` lines, or JSON lines.

    Unknown items are reported on stderr (and in the JSON ``unknown`` field). A single
    playlist with no known item raises DataError; among several playlists read from
    stdin, such a line gets an ``error`` and no suggestions, the others are answered,
    and the exit status is 2.
    """
    stdout, stderr, stdin = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
    if args.k < 1:
        raise ConfigError(f"-k must be >= 1, got {args.k}")
    check_query(args.query, args.decay)
    recommender = Recommender.from_export(args.model, args.query, args.decay)
    numbered = _read_playlists(args.playlist, stdin)
    known = [any(item in recommender for item in items) for _, items in numbered]
    if len(numbered) == 1 and not known[0]:
        raise DataError(f"none of the {len(numbered[0][1])} items of the playlist is known to the model")
    results = iter(recommender.complete_many([items for (_, items), ok in zip(numbered, known) if ok], args.k))
    for index, ((label, items), ok) in enumerate(zip(numbered, known)):
        unknown = recommender.unknown(items)
        if unknown:
            shown = " ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            print(f"track2vec: {'warning' if ok else 'error'}: {label}{len(unknown)} item(s) not in the model"
                  f"{', ignored' if ok else ''}: {shown}", file=stderr)
        suggestions = next(results) if ok else []
        if args.json:
            record = {"playlist": items, "unknown": unknown, "query": args.query,
                      "suggestions": [suggestion.as_dict() for suggestion in suggestions]}
            if args.query == "recency":
                record["decay"] = args.decay
            if not ok:
                record["error"] = "no item of the playlist is known to the model"
            print(json.dumps(record), file=stdout)
        else:
            if index:
                print(file=stdout)  # a blank line between the playlists read from stdin
            for suggestion in suggestions:
                artist = f"\t{suggestion.artist}" if suggestion.artist else ""
                print(f"{suggestion.item}\t{suggestion.score:.4f}{artist}", file=stdout)
    stdout.flush()
    return 0 if all(known) else 2


def main(argv: list[str] | None = None) -> int:
    from track2vec.cli_support import OneLineParser, run_main

    parser = add_recommend_arguments(OneLineParser(
        prog="python -m track2vec.recommend",
        description="Suggest the next tracks of playlists with an exported model (NumPy only).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    ))
    parser.program = "track2vec"
    return run_main("track2vec", parser, argv, run_recommend)


if __name__ == "__main__":
    sys.exit(main())
