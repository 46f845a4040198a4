"""The winner beside its comparison series (baselines, the generator's oracle), by split.

A ``Comparison`` is an ordered mapping ``series name -> {split -> Score}``. A series is
scored per split (``val``, ``test``) or, like the generator's oracle, as one number for every
split (``ONE_NUMBER``). Everything that shows scores reads this object: the summary lines,
``trials.md``, ``status --json``, ``model.json``'s flat ``metrics`` (``<series>_<split>_ndcg_at_10``,
``<series>_ndcg_at_10`` for one number) and the report's figures and table. A new series
needs its scores added where the study is evaluated (``tune/evaluation.py``) and, for a
readable name, a label in ``SERIES_LABELS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

K = 10  # the cut-off of every score: NDCG@10 and HR@10
VALIDATION, TEST = "val", "test"
SPLITS = (VALIDATION, TEST)
ONE_NUMBER = "all"  # the split of a series with one number for every split
SPLIT_LABELS = {VALIDATION: "validation", TEST: "test"}

WINNER, BLEND, POPULARITY, SR, AR, ORACLE = "winner", "blend", "popularity", "sr", "ar", "oracle"
GENSIM = "gensim"  # gensim's skip-gram with its defaults (track2vec.gensim_baseline; run or export --gensim)
COUNTS = "counts"  # the blend's count term alone: SR + a weight x AR (track2vec.blend)
BEST_TRIAL = "best_trial"  # the best trial alone, where the winner is an ensemble of trials (tune/evaluation.py)
# Not a comparison series: the second configuration by validation, ranked on test only for the
# interval of its difference with the winner (tune/intervals.py).
RUNNER_UP = "runner_up"
SERIES_LABELS = {
    WINNER: "winner",
    BEST_TRIAL: "best trial alone (the winner is an ensemble)",
    RUNNER_UP: "runner-up (second by validation)",
    BLEND: "blend: winner + counts (separate mode)",
    COUNTS: "counts: SR + AR (the blend's count term alone)",
    POPULARITY: "popularity baseline",
    SR: "SR baseline (sequential rules)",
    AR: "AR baseline (co-occurrence)",
    GENSIM: "word2vec by gensim (skip-gram, its defaults)",
    ORACLE: "generator oracle (best possible)",
}

_FLAT_KEY = re.compile(rf"^(?P<series>[a-z0-9]+(?:_[a-z0-9]+)*?)_(?:(?P<split>{'|'.join(SPLITS)})_)?"
                       rf"(?P<metric>ndcg|hr)_at_{K}$")


def label(series: str) -> str:
    """The display name of a series (its own name when it has no label)."""
    return SERIES_LABELS.get(series, series)


@dataclass(frozen=True)
class Score:
    """NDCG@10 and HR@10 of one series on one split."""

    ndcg: float
    hit_rate: float


@dataclass
class Comparison:
    """Series name -> {split -> Score}, in the order the series were added (the winner first)."""

    series: dict[str, dict[str, Score]] = field(default_factory=dict)

    def add(self, series: str, split: str, score: Score) -> None:
        if split not in (*SPLITS, ONE_NUMBER):
            raise ValueError(f"unknown split {split!r}")
        self.series.setdefault(series, {})[split] = score

    def __bool__(self) -> bool:
        return bool(self.series)

    def __contains__(self, series: str) -> bool:
        return series in self.series

    def score(self, series: str, split: str) -> Score | None:
        """The series' score on ``split`` (its one number if it has one), or None."""
        by_split = self.series.get(series, {})
        return by_split.get(split) or by_split.get(ONE_NUMBER)

    def per_split(self) -> list[str]:
        """The series scored per split, in order."""
        return [name for name, by_split in self.series.items() if set(by_split) & set(SPLITS)]

    def one_number(self) -> list[str]:
        """The series with one number for every split (the oracle), in order."""
        return [name for name, by_split in self.series.items() if ONE_NUMBER in by_split]

    def splits(self) -> list[str]:
        """The splits some series is scored on, in ``SPLITS`` order."""
        return [split for split in SPLITS if any(split in by_split for by_split in self.series.values())]

    def to_metrics(self) -> dict[str, float]:
        """The flat keys of ``model.json``: ``popularity_val_ndcg_at_10``, ``oracle_hr_at_10``, ..."""
        flat = {}
        for name, by_split in self.series.items():
            for split, score in by_split.items():
                prefix = name if split == ONE_NUMBER else f"{name}_{split}"
                flat[f"{prefix}_ndcg_at_{K}"] = score.ndcg
                flat[f"{prefix}_hr_at_{K}"] = score.hit_rate
        return flat

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, float]) -> Comparison:
        """Read back ``to_metrics``' keys (other keys are ignored); the winner comes first."""
        values: dict[tuple[str, str], dict[str, float]] = {}
        for key, value in metrics.items():
            match = _FLAT_KEY.match(key)
            if match and match["series"] not in SPLITS and isinstance(value, (int, float)):
                values.setdefault((match["series"], match["split"] or ONE_NUMBER), {})[match["metric"]] = value
        comparison = cls()
        ordered = sorted(values.items(), key=lambda item: item[0][0] != WINNER)  # stable: the rest keep their order
        for (series, split), found in ordered:
            if "ndcg" in found and "hr" in found:
                comparison.add(series, split, Score(float(found["ndcg"]), float(found["hr"])))
        return comparison

    def as_dict(self) -> dict[str, dict[str, dict[str, float]]]:
        """JSON-able: {series: {split: {"ndcg_at_10": ..., "hr_at_10": ...}}}."""
        return {name: {split: {f"ndcg_at_{K}": score.ndcg, f"hr_at_{K}": score.hit_rate}
                       for split, score in by_split.items()}
                for name, by_split in self.series.items()}
