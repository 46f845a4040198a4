"""How sure the study's winner is: paired bootstrap intervals of test NDCG@10 and HR@10.

Every series is ranked on the same test pairs: the winner, the runner-up (the second
configuration by validation NDCG@10, scored on test only for these intervals: it picks
nothing), the blend, its count term alone and the baselines (popularity, SR, AR). ``track2vec.intervals.paired_bootstrap``
(the study's seed, ``RESAMPLES`` resamples of the pairs) gives each a 95% interval, and the
paired differences winner − runner-up and winner − best baseline (the baseline with the best
validation NDCG@10) their own. A difference whose interval includes 0 is within the noise of
the test sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from track2vec.intervals import DEFAULT_RESAMPLES, BootstrapIntervals, PairedDifference, paired_bootstrap

from tune.comparison import AR, BLEND, COUNTS, GENSIM, K, POPULARITY, RUNNER_UP, SR, VALIDATION, WINNER, Comparison

RESAMPLES = DEFAULT_RESAMPLES
# the candidates for "best baseline": issue 12's comparison, the counts (the blend's count term alone and gensim are
# reported, not candidates)
BASELINES = (POPULARITY, SR, AR)
ORDER = (WINNER, RUNNER_UP, BLEND, COUNTS, *BASELINES, GENSIM)  # the systems' order in the intervals


@dataclass(frozen=True)
class StudyIntervals:
    """The bootstrap's intervals, and which trial is the runner-up and which baseline the best."""

    bootstrap: BootstrapIntervals
    runner_up: str | None  # the runner-up's trial id (None: no second configuration)
    best_baseline: str | None  # POPULARITY, SR or AR

    @property
    def versus_runner_up(self) -> PairedDifference | None:
        return self._difference(RUNNER_UP)

    @property
    def versus_best_baseline(self) -> PairedDifference | None:
        return self._difference(self.best_baseline) if self.best_baseline else None

    @property
    def blend_versus_counts(self) -> PairedDifference | None:
        """The blend − its count term alone: what the embeddings add to the counts in the blended mode."""
        return self._difference(COUNTS, first=BLEND)

    def _difference(self, second: str, first: str = WINNER) -> PairedDifference | None:
        try:
            return self.bootstrap.difference(first, second)
        except KeyError:
            return None

    def as_dict(self) -> dict:
        return {**self.bootstrap.as_dict(), "runner_up_trial": self.runner_up, "best_baseline": self.best_baseline}

    @classmethod
    def from_dict(cls, values: Mapping) -> StudyIntervals:
        """Read back ``as_dict``; malformed entries raise KeyError, TypeError or ValueError."""
        return cls(BootstrapIntervals.from_dict(values), values.get("runner_up_trial"), values.get("best_baseline"))

    @classmethod
    def from_export(cls, values: Any) -> StudyIntervals | None:
        """``model.json``'s ``intervals``, or None where an export has none (older) or a damaged one."""
        try:
            return cls.from_dict(values) if isinstance(values, Mapping) else None
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


SUBJECTS = {WINNER: "the winner", BLEND: "the blend"}  # the first series of a difference, in words


def verdict(difference: PairedDifference) -> str:
    """What a winner − X (or blend − counts) difference's NDCG@10 interval says, in words."""
    subject = SUBJECTS.get(difference.first, difference.first)
    if difference.ndcg.low > 0:
        return f"{subject} is better on the test pairs (the NDCG@10 interval is above 0)"
    if difference.ndcg.high < 0:
        return f"{subject} is worse on the test pairs (the NDCG@10 interval is below 0)"
    return "within the noise of the test pairs (the NDCG@10 interval includes 0)"


def best_baseline(comparison: Comparison) -> str | None:
    """The baseline with the best validation NDCG@10 (the first on a tie), or None without baselines."""
    scored = [(name, comparison.score(name, VALIDATION)) for name in BASELINES if name in comparison]
    scored = [(name, score) for name, score in scored if score is not None]
    return max(scored, key=lambda item: item[1].ndcg)[0] if scored else None


def study_intervals(test_ranks: Mapping[str, np.ndarray], comparison: Comparison, runner_up: str | None,
                    seed: int) -> StudyIntervals | None:
    """Intervals of every series in ``test_ranks`` (per-pair test ranks by series name; the winner's needed),
    and the differences winner − runner-up, winner − best baseline and blend − counts alone where both are ranked."""
    if WINNER not in test_ranks:
        return None
    baseline = best_baseline(comparison)
    differences = [(first, second) for first, second in ((WINNER, RUNNER_UP), (WINNER, baseline), (BLEND, COUNTS))
                   if first in test_ranks and second in test_ranks]
    ranks = {name: test_ranks[name] for name in ORDER if name in test_ranks}
    bootstrap = paired_bootstrap(ranks, K, differences, RESAMPLES, seed)
    return StudyIntervals(bootstrap, runner_up if RUNNER_UP in ranks else None, baseline)
