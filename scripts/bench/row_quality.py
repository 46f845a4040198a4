"""Row 8: is the winner worth it? A default study's winner against the counted baselines, on test.

For each corpus the row runs exactly what a user runs, ``track2vec-tune run --data <corpus>
--trials N`` with every other option at its default, and reads the export's ``model.json``:
the pure-embedding winner, the blended mode (winner + weight * (log(1 + SR) + ar_weight *
log(1 + AR)), ``track2vec.blend``), its count term alone, and the
baselines (popularity; SR and AR with their steps and weighting chosen on validation), all
scored once on the same held-out test pairs (issue 12's targets):

* e-commerce, Kosarak and builtin small: winner >= max(SR, AR);
* the #nowplaying music sessions: winner >= AR and >= 0.9 x SR, blend >= 1.05 x SR.

Two more corpora, derived from the shared files and run only when ``--quality-corpora`` names them, check
that the defaults were not fitted to those three: ``kosarak-shuffled`` (each Kosarak session's items in a
seeded random order: order carries nothing, and popularity beats SR and AR) and ``nowplaying-10k`` (the
first 10,000 #nowplaying sessions: a music corpus a sixth the size). Their winner must beat every
baseline measured there, popularity included (the music targets for ``nowplaying-10k``).

The seed (default 0, the issue's) also draws which held-out pairs are validation and which test; with
several (``--quality-seeds``) the row runs the command once per seed and adds each target's mean over them.

Nothing here is tuned on test: the study chooses its winner, each trial its scoring, the
blend its weights and the baselines their settings on the validation pairs.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import RowReport, Settings
from bench.studies import run_study

if TYPE_CHECKING:  # imported where used: tune imports Ray, which the other rows' settings need not load
    from tune.intervals import StudyIntervals


@dataclass(frozen=True)
class QualityCorpus:
    """One corpus of the row and what the winner (and the blend) must reach there."""

    name: str
    spec: str
    music: bool = False  # the music target: >= AR, >= 0.9 SR, blend >= 1.05 SR
    # A corpus derived from ``spec``'s sessions (one a line): the sessions the study runs on, written beside it.
    derive: Callable[[list[str]], list[str]] | None = None

    def data(self, directory: Path) -> str:
        """What ``--data`` names: ``spec`` itself, or the derived sessions written into ``directory``."""
        if self.derive is None:
            return self.spec
        sessions = [line for line in Path(self.spec).read_text().splitlines() if line.split()]
        path = directory / f"{self.key}.txt"
        path.write_text("".join(f"{session}\n" for session in self.derive(sessions)))
        return str(path)

    @property
    def key(self) -> str:
        """How ``--quality-corpora`` names it: ``builtin small`` -> ``builtin-small``, ``#nowplaying`` -> ``nowplaying``."""
        return self.name.lower().replace("#", "").replace(" ", "-")


def shuffled_sessions(sessions: list[str], seed: int = 0) -> list[str]:
    """Each session's items in a random order (seeded): the same co-occurrences, no order."""
    rng = random.Random(seed)
    shuffled = []
    for session in sessions:
        items = session.split()
        rng.shuffle(items)
        shuffled.append(" ".join(items))
    return shuffled


def first_sessions(count: int) -> Callable[[list[str]], list[str]]:
    """The first ``count`` sessions."""
    return lambda sessions: sessions[:count]


def pick(corpora: tuple[QualityCorpus, ...], keys: str) -> tuple[QualityCorpus, ...]:
    """The corpora named by comma-separated ``keys`` (``QualityCorpus.key``), in the row's order."""
    wanted = {key.strip().lower() for key in keys.split(",") if key.strip()}
    known = [corpus.key for corpus in corpora]
    unknown = sorted(wanted - set(known))
    if unknown or not wanted:
        raise ValueError(f"row 8's corpora are {', '.join(known)}; got {keys!r}")
    return tuple(corpus for corpus in corpora if corpus.key in wanted)


@dataclass(frozen=True)
class Outcome:
    corpus: QualityCorpus
    metrics: dict[str, float]
    winner: str  # the winner's hyperparameters and scoring, in words
    baselines: dict
    seconds: float
    intervals: StudyIntervals | None = None  # the export's paired bootstrap on the test pairs

    def interval_lines(self) -> list[str]:
        """The study's own lines for the intervals (its table prints the same), or none for an older export."""
        from tune.table import interval_lines

        return interval_lines(self.intervals) if self.intervals is not None else []

    def test(self, series: str) -> float | None:
        return self.metrics.get(f"{series}_test_ndcg_at_10")

    def validation(self, series: str) -> float | None:
        return self.metrics.get(f"{series}_val_ndcg_at_10")


def read_outcome(corpus: QualityCorpus, export: Path, seconds: float) -> Outcome:
    from tune.intervals import StudyIntervals

    info = json.loads((export / "model.json").read_text())
    params = info["hyperparameters"]
    scoring = info.get("scoring", {})
    winner = (", ".join(f"{key} {value}" for key, value in params.items() if key != "seed")
              + f"; scoring {scoring.get('method')} + {scoring.get('popularity_weight')} log(count)")
    if info.get("ensemble"):
        winner += f"; an ensemble with trial(s) {', '.join(info['ensemble']['trial_ids'][1:])}"
    return Outcome(corpus, info["metrics"], winner, info.get("baselines", {}), seconds,
                   StudyIntervals.from_export(info.get("intervals")))


def judge(outcome: Outcome) -> list[tuple[str, float | None, float | None, bool | None]]:
    """(what, ours, reference, met) for each of the corpus' targets."""
    winner, sr, ar, blend = (outcome.test(series) for series in ("winner", "sr", "ar", "blend"))
    if None in (winner, sr, ar):
        return [("winner vs the counted baselines", winner, None, None)]
    if not outcome.corpus.music:
        if outcome.corpus.derive is not None:  # beyond the corpora: every baseline, popularity included
            best = max(sr, ar, outcome.test("popularity") or 0.0)
            return [("winner / max(SR, AR, popularity)", winner, best, winner >= best)]
        best = max(sr, ar)
        return [("winner / max(SR, AR)", winner, best, winner >= best)]
    judged = [("winner / AR", winner, ar, winner >= ar), ("winner / (0.9 x SR)", winner, 0.9 * sr, winner >= 0.9 * sr)]
    if blend is not None:
        judged.append(("blend / (1.05 x SR)", blend, 1.05 * sr, blend >= 1.05 * sr))
    return judged


def across_seeds(outcomes: list[Outcome]) -> list[tuple[str, float, float, int, int]]:
    """(what, mean of ours, mean of the reference, seeds met, seeds judged) for each target of the corpus.

    The seed draws which held-out pairs are validation and which test, so one seed's test gap may be the
    split's luck; the mean over seeds, and in how many the target is met, says whether it is.
    """
    judged: dict[str, list[tuple[float, float, bool]]] = {}
    for outcome in outcomes:
        for what, ours, reference, met in judge(outcome):
            if met is not None:
                judged.setdefault(what, []).append((ours, reference, met))
    return [(what, sum(o for o, _, _ in runs) / len(runs), sum(r for _, r, _ in runs) / len(runs),
             sum(m for _, _, m in runs), len(runs)) for what, runs in judged.items()]


def run(settings: Settings) -> RowReport:
    report = RowReport(8, "Recommendation quality: a default study's winner vs the counted baselines (test NDCG@10)")
    trials, seeds = settings.quality_trials, settings.quality_seeds
    with tempfile.TemporaryDirectory(prefix="track2vec-bench-quality-") as storage:
        for corpus in settings.quality_corpora:
            outcomes = [_study(report, corpus, trials, seed, Path(storage), label_seed=len(seeds) > 1)
                        for seed in seeds]
            if len(seeds) > 1:
                for what, ours, reference, met, runs in across_seeds(outcomes):
                    report.add(f"{corpus.name}: {what}, mean of seeds {', '.join(map(str, seeds))}", f"{ours:.4f}",
                               f"{reference:.4f}", f"{ours / reference:.3f}", ">= 1.0", ours >= reference,
                               note=f"met on {met} of {runs} seeds")
    return report


def _study(report: RowReport, corpus: QualityCorpus, trials: int, seed: int, storage: Path,
           label_seed: bool) -> Outcome:
    """Run the issue's command on ``corpus`` with ``seed``; add its targets and details to ``report``."""
    label = f"{corpus.name} (seed {seed})" if label_seed else corpus.name
    name = f"row8-{corpus.name.replace(' ', '-').replace('#', '')}-seed{seed}"
    data = corpus.data(storage)
    options = ["--data", data, "--trials", str(trials), "--seed", str(seed), "--no-dashboard"]
    study = run_study(storage, name, options, timeout=6 * 3600)
    outcome = read_outcome(corpus, study.path / "export", study.wall_seconds)
    for what, ours, reference, met in judge(outcome):
        ratio = f"{ours / reference:.3f}" if ours is not None and reference else ""
        report.add(f"{label}: {what}", f"{ours:.4f}" if ours is not None else "n/a",
                   f"{reference:.4f}" if reference is not None else "", ratio, ">= 1.0", met)
    report.detail(f"{label}: track2vec-tune run --data {Path(data).name} --trials {trials} "
                  f"--seed {seed} ({study.wall_seconds / 60:.1f} min)")
    report.detail(f"  winner: {outcome.winner}")
    for series in ("winner", "blend", "counts", "sr", "ar", "popularity"):
        if outcome.test(series) is not None:
            report.detail(f"  {series:<10} validation NDCG@10 {outcome.validation(series):.4f}  "
                          f"test NDCG@10 {outcome.test(series):.4f}  "
                          f"test HR@10 {outcome.metrics.get(f'{series}_test_hr_at_10', float('nan')):.4f}")
    report.detail(f"  baselines' settings (chosen on validation): {outcome.baselines}")
    for line in outcome.interval_lines():
        report.detail(f"  {line}")
    return outcome
