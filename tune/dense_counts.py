"""The default space on a corpus dense in counts: ``count-softmax`` instead of ``softmax``.

Summed over an epoch, the softmax's sampled pairs train a cross-entropy against each item's row of
co-occurrence counts; ``count-softmax`` (``track2vec.count_rows``) trains the same model on those rows
directly, every item a candidate in every row, with no sampling settings to search. Its epoch scores
every item for every row, ``PASSES_PER_EPOCH`` x items x items multiply-adds per dimension however long
the corpus (measured against the softmax's, about ``ROW_OVERHEAD`` times that), where the softmax's
scores each pair against its batch's shared negatives and grows with the corpus. Where the rows cost
no more than the pairs at the default configuration (many playlists over few items: dense counts),
a study trains count-softmax: on the purchases corpus its studies scored above the softmax's on
validation and on test on most seeds, in a fraction of the time (BENCHMARKS.md, "Dense counts").
Elsewhere its epochs would cost more, and a ``--config`` still names it.

The rule leaves the space to the pair models where the corpus or the config holds what the counted
rows cannot read: artists (the pair models' artist vectors), playlist ends that pay
(``tune/playlist_ends.py`` searches their weighting, which only sampled positions carry), a config
that names the architecture, a pair sampling setting or artist vectors, or windows beyond the counts'
reach. The choice goes into the study's overrides, so ``study.json`` records it and a resumed study
searches the same space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from track2vec.config import SHARED_NEGATIVE_ROWS, TrainConfig
from track2vec.count_rows import PASSES_PER_EPOCH

from track2vec.errors import ConfigError

from tune.search_space import DEFAULT_ARCHITECTURE, PAIR_SAMPLING, build_space

PARAMETER = "architecture"
ARCHITECTURE = "count-softmax"
# What a count-softmax epoch measures, beside a softmax epoch, over what their multiply-adds say: the dense soft
# labels and the softmax over every item add elementwise work the count leaves out (BENCHMARKS.md, "Dense counts";
# scripts/measure_dense_counts.py measures it per corpus).
ROW_OVERHEAD = 2


@dataclass(frozen=True)
class EpochCosts:
    """The estimated cost of one epoch: of count-softmax's rows, and of the softmax's pairs at the default
    configuration (window, negatives, shared rows), in multiply-adds per embedding dimension (the rows' with
    their measured overhead)."""

    items: int
    training_tokens: int

    @property
    def rows(self) -> int:
        return ROW_OVERHEAD * PASSES_PER_EPOCH * self.items * self.items

    @property
    def pairs(self) -> int:
        pairs = self.training_tokens * 2 * TrainConfig.window  # contexts on both sides
        return pairs * (1 + SHARED_NEGATIVE_ROWS * TrainConfig.negatives)

    @property
    def ratio(self) -> float:
        return self.rows / max(self.pairs, 1)


@dataclass(frozen=True)
class DenseCountsRule:
    """The costs that made the rule fire, and the architecture it sets."""

    costs: EpochCosts

    @property
    def overrides(self) -> dict[str, Any]:
        return {PARAMETER: ARCHITECTURE}

    def describe(self) -> str:
        return (f"dense counts: {self.costs.training_tokens:,} training items over {self.costs.items:,} items, so "
                f"an epoch of {ARCHITECTURE}'s counted rows costs {self.costs.ratio:.2f}x one of "
                f"{DEFAULT_ARCHITECTURE}'s sampled pairs: the study trains {ARCHITECTURE} (its rows hold what "
                "the pairs sample)")


def dense_counts_rule(overrides: Mapping[str, Any], items: int, training_tokens: int,
                      artists: bool) -> DenseCountsRule | None:
    """The rule for a corpus of ``items`` and ``training_tokens`` (None: the space keeps its architecture).

    The caller asks it only where the playlist-ends rule did not fire."""
    if artists or {PARAMETER, "artist_vectors", *PAIR_SAMPLING} & set(overrides):
        return None
    costs = EpochCosts(items, training_tokens)
    if costs.rows > costs.pairs:
        return None
    try:
        build_space({**overrides, PARAMETER: ARCHITECTURE})
    except ConfigError:  # the config's windows reach beyond the counted rows
        return None
    return DenseCountsRule(costs)
