"""Playlist completion: suggest the next tracks of a playlist from exported embeddings.

Pure NumPy on an export directory (``embeddings.npy``, ``vocabulary.tsv``, ``model.json``,
and ``context_embeddings.npy`` for ``sgns``); TensorFlow and Keras are never imported, so
start-up is fast. Candidates are ranked exactly as the evaluation ranked them: by the
export's scoring (``model.json``, see :mod:`track2vec.scoring`), so the top 10 for a
playlist's last item is the evaluation's top 10 for that item.

How a playlist becomes a query
    Every item of the playlist that the model knows contributes its query vector (its
    unit vector for cosine scoring, its target vector for target-context scoring, its target
    and context vectors side by side for symmetric scoring); the query is their weighted mean
    (for cosine, scaled to unit length).

    * ``last``: only the last known item (the evaluation protocol's query; the default,
      which measured best on validation playlists: ``scripts/measure_query_strategy.py``
      and BENCHMARKS.md);
    * ``mean``: all known items with equal weight;
    * ``recency``: item at distance ``d`` from the end of the playlist (the last
      item has ``d = 0``, unknown items still count as positions) gets weight
      ``decay ** d``; ``decay = 0`` is ``last``, ``decay = 1`` is ``mean``.

    Suggestions never include an item of the playlist, and items unknown to the
    model are reported rather than fatal unless none is known.

Exact or approximate search
    Every item is scored for every query, unless the export has an approximate
    nearest-neighbour index (:mod:`track2vec.ann`: a large vocabulary scored by plain cosine)
    and the embedding mode is asked for: then the index finds the candidates and they are
    scored exactly. ``exact=True`` (``--exact``) scores every item anyway; the blended mode
    always does (its count term is not in the index).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from track2vec import ann
from track2vec.errors import ConfigError, DataError
from track2vec.evaluation import top_k
from track2vec.export import read_export
from track2vec.formats import unescape
from track2vec.scoring import Scoring, score_table

QUERY_STRATEGIES = ("last", "mean", "recency")
MODES = ("embedding", "blend")  # blend: the export's blended mode (embeddings + weight * counts, track2vec.blend)
DEFAULT_QUERY = "last"
DEFAULT_DECAY = 0.3
DEFAULT_K = 10


@dataclass(frozen=True)
class Suggestion:
    """One suggested next item: its ``score`` for the query (under the export's scoring) and its artist (None when unknown)."""

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
    """Completes playlists with the best-scoring items for a query built from the playlist."""

    def __init__(
        self,
        embeddings: np.ndarray,
        items: np.ndarray,
        artists: np.ndarray | None = None,
        query: str = DEFAULT_QUERY,
        decay: float = DEFAULT_DECAY,
        info: dict | None = None,
        *,
        counts: np.ndarray | None = None,
        context_embeddings: np.ndarray | None = None,
        context_bias: np.ndarray | None = None,
        scoring: Scoring | None = None,
        blend_rules=None,
        blend_weight: float | None = None,
        blend_scoring: Scoring | None = None,
        index: ann.AnnIndex | None = None,
    ) -> None:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or len(embeddings) != len(items):
            raise DataError(f"embeddings of shape {embeddings.shape} do not match {len(items)} vocabulary items")
        if len(items) == 0:
            raise DataError("the model has an empty vocabulary")
        check_query(query, decay)
        self.scoring = scoring or Scoring()
        counts = np.ones(len(items)) if counts is None else counts
        self.table = score_table(self.scoring.method, embeddings, counts, context_embeddings, context_bias)
        self.items = np.asarray(items, dtype=str)
        self.artists = None if artists is None else np.asarray(artists, dtype=str)
        self.query = query
        self.decay = float(decay)
        self.info = info or {}
        self._index = {item: index for index, item in enumerate(self.items.tolist())}
        self.blend_rules, self.blend_weight = blend_rules, blend_weight
        # the blended mode may score the embeddings another way than the embedding mode (track2vec.blend)
        self.blend_scoring = blend_scoring or self.scoring
        self.blend_table = self.table
        if self.blend_scoring.method != self.scoring.method:
            self.blend_table = score_table(self.blend_scoring.method, embeddings, counts, context_embeddings, context_bias)
        if index is not None and not ann.supports(self.scoring):
            raise ConfigError(f"an approximate index reproduces plain cosine scoring only, not {self.scoring.describe()}")
        self.index = index  # searched instead of every item in the embedding mode (None: exact search)

    @property
    def approximate(self) -> bool:
        """Whether the embedding mode searches the approximate index rather than every item."""
        return self.index is not None

    @property
    def can_blend(self) -> bool:
        return self.blend_rules is not None and self.blend_weight is not None

    @classmethod
    def from_export(cls, path: str | Path, query: str = DEFAULT_QUERY, decay: float = DEFAULT_DECAY,
                    exact: bool = False) -> "Recommender":
        """Load an export directory written by ``track2vec train --out``; DataError if it is not one.

        Its approximate index, when it has one, is used unless ``exact``; without the ``ann`` extra
        installed a warning says so and search is exact.
        """
        export = read_export(Path(path))
        if export.embeddings.ndim != 2 or not np.issubdtype(export.embeddings.dtype, np.floating):
            raise DataError(f"{path}: embeddings.npy is not a 2-D float array")
        vocabulary = export.vocabulary
        return cls(export.embeddings, vocabulary.items, vocabulary.artists, query, decay, export.info,
                   counts=vocabulary.counts, context_embeddings=export.context_embeddings,
                   context_bias=export.context_bias, scoring=export.scoring,
                   blend_rules=export.blend_rules, blend_weight=export.blend_weight, blend_scoring=export.blend_scoring,
                   index=None if exact else _export_index(export, Path(path)))

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

    def query_vectors(self, playlists: list[list[str]], query: str | None = None, decay: float | None = None,
                      mode: str = "embedding") -> tuple[np.ndarray, list[np.ndarray]]:
        """Query vectors [n, dim] of ``playlists`` (under ``mode``'s scoring) and each playlist's known item ids."""
        table = self.blend_table if mode == "blend" else self.table
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
            return np.zeros((0, table.queries.shape[1]), dtype=np.float32), []
        ids = np.concatenate(all_ids)
        weights = np.concatenate(all_weights).astype(np.float32)
        starts = np.asarray(starts)
        # A weighted mean: for target-context the query's scale is part of its score.
        weights /= np.repeat(np.add.reduceat(weights, starts), np.diff(np.append(starts, len(weights))))
        vectors = np.add.reduceat(table.queries[ids] * weights[:, None], starts, axis=0)
        return vectors, known_ids

    def complete_many(self, playlists: list[list[str]], k: int = DEFAULT_K, query: str | None = None,
                      decay: float | None = None, mode: str = "embedding") -> list[list[Suggestion]]:
        """The ``k`` best next items of each playlist, best first, by one batched similarity search.

        Items of a playlist are never suggested for it; unknown items are ignored
        (see :meth:`unknown`); a playlist with no known item raises DataError.
        Fewer than ``k`` suggestions come back only when the vocabulary runs out.
        ``mode="blend"`` adds the export's count term (SR's, and AR's where chosen) for the last known
        item (:mod:`track2vec.blend`).
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
        if mode == "blend" and not self.can_blend:
            raise ConfigError("this export has no blended mode (blend_rules.npz and model.json's blend)")
        vectors, known_ids = self.query_vectors(playlists, query, decay, mode)
        if not len(vectors):
            return []
        width = min(int(k), len(self.items))
        extra, table, scoring = None, self.table, self.scoring
        if mode == "blend":
            table, scoring = self.blend_table, self.blend_scoring
            last_known = np.array([self._encode(list(playlist), number)[1][-1] for number, playlist in enumerate(playlists)])
            extra = (np.float32(self.blend_weight), self.blend_rules, last_known)
        if self.index is not None and mode == "embedding":
            ids, scores = self.index.top_k(vectors, width, exclude=known_ids)
        else:
            ids, scores = top_k(table, vectors, width, exclude=known_ids,
                                popularity_weight=scoring.popularity_weight, extra=extra)
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
                 decay: float | None = None, mode: str = "embedding") -> list[Suggestion]:
        """The ``k`` best next items of ``playlist``, best first (see :meth:`complete_many`)."""
        return self.complete_many([list(playlist)], k, query, decay, mode)[0]


def _export_index(export, path: Path) -> ann.AnnIndex | None:
    """The export's approximate index; None (exact search, with a warning) when Voyager is not installed."""
    if export.info.get("ann") and not ann.available():
        warnings.warn(f"{path} has an approximate index; without Voyager ({ann.EXTRA}) every item is scored",
                      stacklevel=3)
        return None
    return export.ann_index(path)


# ---------------------------------------------------------------- command line
# ``track2vec recommend`` (track2vec/cli.py) uses these; ``python -m track2vec.recommend``
# runs the same command without importing the training stack (Keras) first.


def add_recommend_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", type=Path, required=True,
                        help="an export directory: a study's <storage>/<name>/export, or what track2vec train --out wrote")
    parser.add_argument("--playlist", required=True,
                        help="the playlist's items separated by spaces (an item with spaces in its name "
                             "percent-encoded, as the export's embeddings.w2v.txt writes it: Song%%20B), "
                             "or - to read playlists from standard input, one per line")
    parser.add_argument("-k", type=int, default=DEFAULT_K, help="number of suggestions")
    parser.add_argument("--query", choices=QUERY_STRATEGIES, default=DEFAULT_QUERY,
                        help="last: the last known item; mean: all known items alike; "
                             "recency: weights decay**(distance from the end)")
    parser.add_argument("--decay", type=float, default=DEFAULT_DECAY, help="decay of --query recency")
    parser.add_argument("--mode", choices=MODES, default="embedding",
                        help="embedding: the exported embeddings alone; blend: plus the export's counted-rules "
                             "term for the last known item (exports of a study that measured a blend)")
    parser.add_argument("--exact", action="store_true",
                        help="score every item even when the export has an approximate index (large vocabularies)")
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


def _as_known(item: str, recommender: Recommender) -> str:
    """``item``, or its percent-decoded name where only that is known to the model.

    Items are separated by white space on the command line; one whose name holds white space is
    written as the export's word2vec file writes it (``formats.escape``: ``Song%20B`` for ``Song B``).
    """
    if item in recommender or "%" not in item:
        return item
    try:
        decoded = unescape(item)
    except UnicodeDecodeError:
        return item
    return decoded if decoded in recommender else item


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
    recommender = Recommender.from_export(args.model, args.query, args.decay, exact=getattr(args, "exact", False))
    numbered = [(label, [_as_known(item, recommender) for item in items])
                for label, items in _read_playlists(args.playlist, stdin)]
    known = [any(item in recommender for item in items) for _, items in numbered]
    if len(numbered) == 1 and not known[0]:
        raise DataError(f"none of the {len(numbered[0][1])} items of the playlist is known to the model")
    mode = getattr(args, "mode", "embedding")
    if mode == "blend" and not recommender.can_blend:
        raise ConfigError(f"{args.model} has no blended mode: only a study's export measures one "
                          "(track2vec-tune run or export); use --mode embedding")
    results = iter(recommender.complete_many([items for (_, items), ok in zip(numbered, known) if ok], args.k,
                                             mode=mode))
    for index, ((label, items), ok) in enumerate(zip(numbered, known)):
        unknown = recommender.unknown(items)
        if unknown:
            shown = " ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            print(f"track2vec: {'warning' if ok else 'error'}: {label}{len(unknown)} item(s) not in the model"
                  f"{', ignored' if ok else ''}: {shown}", file=stderr)
        suggestions = next(results) if ok else []
        if args.json:
            record = {"playlist": items, "unknown": unknown, "query": args.query, "mode": mode,
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
    from track2vec.cli_support import DefaultsHelpFormatter, OneLineParser, run_main

    parser = add_recommend_arguments(OneLineParser(
        prog="python -m track2vec.recommend",
        description="Suggest the next tracks of playlists with an exported model (NumPy only).",
        formatter_class=DefaultsHelpFormatter,
    ))
    parser.program = "track2vec"
    return run_main("track2vec", parser, argv, run_recommend)


if __name__ == "__main__":
    sys.exit(main())
