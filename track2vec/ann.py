"""An approximate nearest-neighbour index of an export's item vectors, for serving large vocabularies.

Exact retrieval (:func:`track2vec.evaluation.top_k`) scores every item for every query: its cost
grows with the vocabulary. An HNSW graph (Spotify's Voyager, the optional ``ann`` extra) finds
the nearest items by cosine while visiting a small part of them. It reproduces one scoring
only, plain ``cosine`` (no popularity term): a popularity term or target-context scoring
ranks by something the graph's distance does not measure, so those exports stay exact.

The candidates the graph returns are re-scored exactly (the same cosine as the evaluation's)
and ordered as ``top_k`` orders them (best score first, ties by item id); only whether an item
is among the candidates at all is approximate. Its recall@10 against exact search is measured
by ``scripts/measure_ann_recall.py`` (BENCHMARKS.md, "Approximate index").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from track2vec.errors import DataError, Track2VecError
from track2vec.scoring import Scoring, unit_rows

INDEX_FILE = "ann.voyager"
# Vocabularies from this size up get an index at export (when the scoring allows one): below it an
# exact query is already quick (BENCHMARKS.md, "Approximate index").
MIN_ITEMS = 100_000
EXTRA = "pip install 'track2vec-tune[ann]'"


@dataclass(frozen=True)
class IndexSettings:
    """The graph's settings (Voyager's names): more of each means higher recall and more time.

    ``m``: links per node; ``ef_construction``: candidates kept while inserting; ``ef``:
    candidates kept while querying (raised to the number of neighbours asked for when lower).
    The values are those measured to reach recall@10 >= 0.99 (BENCHMARKS.md).
    """

    m: int = 16
    ef_construction: int = 200
    ef: int = 200

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise Track2VecError(f"index setting {name} must be a whole number >= 1, got {value!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> IndexSettings:
        known = {name: values[name] for name in asdict(cls()) if name in values}
        return cls(**known)


def supports(scoring: Scoring) -> bool:
    """Whether an index reproduces ``scoring``'s ranking: plain cosine only."""
    return scoring.method == "cosine" and scoring.popularity_weight == 0


def wanted(n_items: int, scoring: Scoring) -> bool:
    """Whether an export of ``n_items`` items scored by ``scoring`` gets an index by default."""
    return n_items >= MIN_ITEMS and supports(scoring)


def available() -> bool:
    """Whether the optional extra (Voyager) is installed."""
    try:
        import voyager  # noqa: F401
    except ImportError:
        return False
    return True


def _voyager():
    try:
        import voyager
    except ImportError:
        raise Track2VecError(f"an approximate index needs Voyager: {EXTRA}") from None
    return voyager


class AnnIndex:
    """An HNSW graph over unit item vectors; ids are the vocabulary's indices."""

    def __init__(self, graph, vectors: np.ndarray, settings: IndexSettings) -> None:
        self.graph = graph
        self.vectors = vectors  # float32 [V, dim], unit rows: the exact re-scoring's candidates
        self.settings = settings

    @classmethod
    def build(cls, embeddings: np.ndarray, settings: IndexSettings = IndexSettings(), seed: int = 0) -> AnnIndex:
        voyager = _voyager()
        vectors = unit_rows(np.asarray(embeddings, dtype=np.float32))
        graph = voyager.Index(voyager.Space.Cosine, num_dimensions=vectors.shape[1], M=settings.m,
                              ef_construction=settings.ef_construction, random_seed=seed,
                              max_elements=len(vectors), storage_data_type=voyager.StorageDataType.Float32)
        graph.add_items(vectors, ids=np.arange(len(vectors)))
        return cls(graph, vectors, settings)

    def save(self, path: Path) -> None:
        self.graph.save(str(path))

    @classmethod
    def load(cls, path: Path, embeddings: np.ndarray, settings: IndexSettings) -> AnnIndex:
        """Read ``path``; DataError when it is not an index of these embeddings."""
        voyager = _voyager()
        try:
            graph = voyager.Index.load(str(path))
        except (RuntimeError, ValueError, OSError) as error:
            raise DataError(f"{path}: unreadable approximate index ({error})") from None
        if graph.num_elements != len(embeddings) or graph.num_dimensions != embeddings.shape[1]:
            raise DataError(f"{path}: an index of {graph.num_elements} x {graph.num_dimensions} vectors, "
                            f"the embeddings are {embeddings.shape[0]} x {embeddings.shape[1]}")
        return cls(graph, unit_rows(np.asarray(embeddings, dtype=np.float32)), settings)

    def top_k(self, queries: np.ndarray, k: int, exclude: list[np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Like :func:`track2vec.evaluation.top_k` for cosine without a popularity term: (ids, scores), best first.

        Each query asks the graph for ``k`` more neighbours than it excludes, so excluded
        items never crowd out the ``k`` it returns; scores are exact cosines.
        """
        queries = unit_rows(np.asarray(queries, dtype=np.float32))
        excluded = [np.asarray(banned, dtype=np.int64) for banned in exclude] if exclude is not None else None
        extra = max((len(banned) for banned in excluded), default=0) if excluded else 0
        wanted_k = min(k + extra, len(self.vectors))
        self.graph.ef = max(self.settings.ef, wanted_k)
        neighbours, _ = self.graph.query(queries, k=wanted_k)
        neighbours = neighbours.astype(np.int64)
        scores = np.einsum("ij,ikj->ik", queries, self.vectors[neighbours])
        if excluded:
            for row, banned in enumerate(excluded):
                scores[row, np.isin(neighbours[row], banned)] = -np.inf
        width = min(k, wanted_k)
        order = np.lexsort((neighbours, -scores), axis=-1)[:, :width] if len(queries) else np.empty((0, width), int)
        return np.take_along_axis(neighbours, order, axis=1), np.take_along_axis(scores, order, axis=1)
