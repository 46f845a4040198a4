"""The ``count-softmax`` architecture's training examples: each item's counted co-occurrence row.

The ``softmax`` architecture learns, pair by sampled pair, to predict an item's neighbours.
Summed over an epoch, that objective is a cross-entropy against each item's row of weighted
co-occurrence counts: what the counted baselines SR and AR hold (``track2vec.baselines``).
``count-softmax`` trains the same model (target vectors, context vectors, a bias per item) on
those rows directly, as GloVe trains on its counts: one query item a training example, its
row normalised into a soft label over every item, weighted by the row's total count to the
power ``ROW_WEIGHT_POWER`` (frequent queries count more, though less than in proportion, as
subsampling has them in the pair models).

The rows read the configuration's window as the counts read their steps:

* ``direction``: contexts after the item only (``forward``: SR's rows) or on both sides (AR's);
* ``window``: the largest distance counted (at most ``track2vec.baselines.MAX_STEPS``);
* ``shrink_windows``: nearer contexts weigh more, a co-occurrence at distance d counting 1/d
  (word2vec's reduced window favours near contexts the same way); otherwise every distance counts 1.

The pair models' sampling settings (``negatives``, ``alpha``, ``subsample``, ``shared_rows``,
``recency_scale``) do not apply: every item is a candidate in every row's softmax. One epoch is
``PASSES_PER_EPOCH`` passes over the rows in a seeded random order, ``batch_size`` rows a step;
a pass is a few steps, since a corpus has far fewer items than pairs. The dense soft labels of
a step ([batch_size, items]) bound the vocabularies this suits.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from track2vec.baselines import RuleSettings, weighted_counts, weighted_rule_counts
from track2vec.config import TrainConfig
from track2vec.corpus import Corpus
from track2vec.errors import ConfigError

ROW_WEIGHT_POWER = 0.5
PASSES_PER_EPOCH = 10
# Stream purpose (part of the row order's random key), apart from the pair sampler's.
_ROW_ORDER = 5


def rule_settings(config: TrainConfig) -> RuleSettings:
    """The counted rows that ``config``'s window describes."""
    return RuleSettings("sr" if config.direction == "forward" else "ar", config.window,
                        "div" if config.shrink_windows else "same")


class CountRows:
    """Every item's normalised count row and its weight, served as fixed-size batches of soft labels."""

    def __init__(self, corpus: Corpus, config: TrainConfig) -> None:
        self.batch_size, self.seed = config.batch_size, config.seed
        size = len(corpus.vocabulary)
        counts = weighted_counts(weighted_rule_counts(corpus.tokens, corpus.offsets, size, rule_settings(config)))
        totals = np.asarray(counts.sum(axis=1)).ravel()
        self.queries = np.flatnonzero(totals > 0).astype(np.int32)  # items with no counted neighbour teach nothing
        if not len(self.queries):
            raise ConfigError(f"architecture count-softmax: no item has another within {config.window} positions "
                              "of it in the training playlists")
        self.labels = sp.csr_matrix(sp.diags(1.0 / totals[self.queries]) @ counts[self.queries], dtype=np.float32)
        weights = totals[self.queries] ** ROW_WEIGHT_POWER
        self.weights = (weights / weights.mean()).astype(np.float32)

    def steps_per_epoch(self) -> int:
        return PASSES_PER_EPOCH * -(-len(self.queries) // self.batch_size)

    def pair_count(self) -> int:
        """The (item, context) pairs one epoch trains on: every nonzero of every row, once a pass."""
        return PASSES_PER_EPOCH * self.labels.nnz

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(queries [size, 1], soft labels [size, items], weights [size])`` of epoch ``epoch``; the last,
        partial batch of a pass is topped up with rows from the pass's start. The order depends only on
        (seed, epoch), as the pair sampler's does."""
        rng = np.random.default_rng([self.seed, _ROW_ORDER, epoch])
        size = self.batch_size
        for _ in range(PASSES_PER_EPOCH):
            order = rng.permutation(len(self.queries))
            order = np.resize(order, -(-len(order) // size) * size)
            for first in range(0, len(order), size):
                rows = order[first:first + size]
                yield self.queries[rows, None], self.labels[rows].toarray(), self.weights[rows]
