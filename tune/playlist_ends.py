"""The default space on a corpus whose playlist ends predict the next item: ``recency_scale`` searched.

Weighing the ends of playlists in training (the sampler's ``recency_scale``) raised a click-stream's
validation NDCG@10 and lowered that of music sessions, purchases and the built-in corpus
(BENCHMARKS.md, "Weighting the ends of playlists"): searched everywhere, it would cost most corpora
trials. The counts tell the two kinds apart in seconds, on the validation pairs
(``track2vec.playlist_ends``), so a study asks them before it starts and searches ``recency_scale``
among 0 (off) and the check's scales only where the ends pay. A ``--config`` that names
``recency_scale`` keeps its own choice, and the large-corpus recipe (tune/large_corpus.py) skips the
check. The choice goes into the study's overrides, so ``study.json`` records it and a resumed study
searches the same space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from track2vec.corpus import Corpus
from track2vec.playlist_ends import SCALES, EndsCheck, check_playlist_ends

PARAMETER = "recency_scale"


@dataclass(frozen=True)
class PlaylistEndsRule:
    """The check that fired, and the search it adds."""

    check: EndsCheck

    @property
    def overrides(self) -> dict[str, Any]:
        """What the rule adds to the study's overrides: ``recency_scale`` searched among 0 and the scales."""
        return {PARAMETER: {"choices": [0.0, *SCALES]}}

    def describe(self) -> str:
        choices = ", ".join(f"{value:g}" for value in self.overrides[PARAMETER]["choices"])
        return f"{self.check.describe()}: the space searches {PARAMETER} among {choices} (0: off)"


def playlist_ends_rule(overrides: Mapping[str, Any], corpus: Corpus) -> PlaylistEndsRule | None:
    """The rule for ``corpus`` (None: ``recency_scale`` stays as the space has it)."""
    if PARAMETER in overrides or overrides.get("architecture") == "count-softmax":  # no sampled positions to weigh
        return None
    check = check_playlist_ends(corpus.tokens, corpus.offsets, len(corpus.vocabulary), corpus.validation_pairs,
                                seed=corpus.seed)
    return PlaylistEndsRule(check) if check.pays else None
