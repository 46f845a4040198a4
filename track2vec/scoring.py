"""How candidates are ranked for a query item: one definition for evaluation, export and ``recommend``.

A candidate ``j`` scores, for query item ``q``::

    score(q, j) = similarity(q, j) + popularity_weight * log(count of j)

with ``similarity`` one of

* ``cosine``: the cosine between the two items' (input) vectors, the notebook's choice. It
  is symmetric and blind to popularity;
* ``target-context``: the dot product of ``q``'s target vector with ``j``'s context vector
  (plus ``j``'s learnt bias for the ``softmax`` architecture), the logit the model is trained
  to give a (target, context) pair. With forward windows it is directional: "what comes
  after ``q``";
* ``symmetric``: the target-context logit taken both ways, ``t_q . c_j + t_j . c_q`` (plus
  ``j``'s bias for ``softmax``). With windows on both sides each of the two dot products
  estimates the same co-occurrence, and their sum averages two estimates learnt by different
  rows; with forward windows it mixes "after ``q``" with "before ``q``", so validation picks it
  mostly where order matters little.

Skip-gram with negative sampling fits ``target . context`` to a PMI shifted by the
negative-sampling distribution (Levy and Goldberg, 2014); adding ``log(count)`` turns that
back into a next-item score, so the popularity weight matters most with ``target-context``.
``popularity_weight = 0`` is the plain similarity.

Neither choice changes training: the trainer tries them on the validation pairs after
every epoch and keeps the best (``SCORINGS`` x ``POPULARITY_WEIGHTS`` unless the
configuration fixes one), so they cost no trials of a study.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from track2vec.errors import ConfigError

SCORINGS = ("cosine", "target-context", "symmetric")
CONTEXT_SCORINGS = ("target-context", "symmetric")  # the ones that need context vectors
AUTO = "auto"  # chosen on the validation pairs after every epoch
# The popularity weights tried when none is fixed: 0 (plain similarity) up to past the
# weights that win with target-context scoring.
POPULARITY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class Scoring:
    """One way of scoring candidates: the similarity and the weight of ``log(count)``."""

    method: str = "cosine"
    popularity_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in SCORINGS:
            raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}, got {self.method!r}")
        if not (np.isfinite(self.popularity_weight) and self.popularity_weight >= 0):
            raise ConfigError(f"popularity_weight must be a number >= 0, got {self.popularity_weight!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Scoring":
        """From ``as_dict``'s form; a missing entry takes its default, a malformed one is a ConfigError."""
        weight = values.get("popularity_weight", 0.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ConfigError(f"popularity_weight must be a number, got {weight!r}")
        return cls(str(values.get("method", "cosine")), float(weight))

    def describe(self) -> str:
        if self.popularity_weight == 0:
            return self.method
        return f"{self.method} + {self.popularity_weight:g} log(count)"


@dataclass(frozen=True)
class Vectors:
    """One model's vectors: item (target) vectors, and context vectors and bias where the model has them."""

    embeddings: np.ndarray  # float32 [V, dim]
    context_embeddings: np.ndarray | None = None  # float32 [V, dim]
    context_bias: np.ndarray | None = None  # float32 [V]

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def can_score(self, method: str) -> bool:
        """Whether these vectors can rank by ``method`` (the context scorings need context vectors)."""
        return method not in CONTEXT_SCORINGS or self.context_embeddings is not None

    def score_table(self, method: str, counts: np.ndarray) -> "ScoreTable":
        return score_table(method, self.embeddings, counts, self.context_embeddings, self.context_bias)


@dataclass(frozen=True)
class ScoreTable:
    """The arrays behind one similarity: ``queries[q] . items[j]``, plus ``log_counts`` for the popularity term.

    With ``normalize_queries`` (cosine) a query built from several items is scaled to unit length
    before it is scored, as every row of ``queries`` is.
    """

    queries: np.ndarray  # float32 [V, dim]: each item as a query
    items: np.ndarray  # float32 [V, dim]: each item as a candidate
    log_counts: np.ndarray  # float32 [V]
    normalize_queries: bool
    item_bias: np.ndarray | None = None  # float32 [V]: added to every score of the item as a candidate

    def bias(self, popularity_weight: float) -> np.ndarray | None:
        """What each candidate adds to its similarity: its own bias and ``popularity_weight * log(count)``."""
        bias = self.item_bias
        if popularity_weight:
            term = np.float32(popularity_weight) * self.log_counts
            bias = term if bias is None else bias + term
        return bias


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (float32); all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def score_table(method: str, embeddings: np.ndarray, counts: np.ndarray,
                context_embeddings: np.ndarray | None = None, context_bias: np.ndarray | None = None) -> ScoreTable:
    """The :class:`ScoreTable` of ``method`` for item vectors ``embeddings`` (and, for target-context and symmetric,
    the context vectors and, where the model learns one, the context bias)."""
    log_counts = np.log(np.maximum(np.asarray(counts, dtype=np.float64), 1.0)).astype(np.float32)
    if method == "cosine":
        unit = unit_rows(embeddings)
        return ScoreTable(unit, unit, log_counts, normalize_queries=True)
    if method in CONTEXT_SCORINGS:
        if context_embeddings is None:
            raise ConfigError(f"{method} scoring needs context vectors: train with --architecture sgns or softmax")
        bias = None if context_bias is None else np.asarray(context_bias, dtype=np.float32)
        targets = np.asarray(embeddings, dtype=np.float32)
        contexts = np.asarray(context_embeddings, dtype=np.float32)
        if method == "symmetric":  # [t_q, c_q] . [c_j, t_j] = t_q . c_j + c_q . t_j
            targets, contexts = np.hstack([targets, contexts]), np.hstack([contexts, targets])
        return ScoreTable(targets, contexts, log_counts, normalize_queries=False, item_bias=bias)
    raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}, got {method!r}")
