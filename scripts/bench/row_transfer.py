"""Row 9: tune on a sample, then transfer (issue 17; Chamberlain et al., Twitter 2020, found tuning on a
10% sample and applying the settings to the full set worth +91% hit rate over not tuning).

For each (corpus, seed) of the plan the row runs three studies through the CLI, each exported with its winner scored
once on the held-out test pairs of the whole corpus (a sample keeps those pairs):

1. ``run --sample 0.1 --trials N1``: TPE + ASHA on a seeded 10% of the training playlists;
2. ``run --warm-start-from <1> --warm-start-top k --trials N2``: all the data, the sample study's top
   k configurations first, then TPE;
3. ``run --trials N2 + ceil(N1 x 0.1)``: all the data from scratch, with about the training that
   1 and 2 did together, counted in playlist-epochs (a sample trial's epoch counts as 0.1 of one).

It reports the test NDCG@10 of 2's winner against 3's, and what each side actually spent: the
training seconds (Keras ``fit``, summed over every epoch of every trial) and the studies' wall time.
A sample trial still compiles its model and scores the whole validation set every epoch, so its
measured cost is more than its share of the data: the row shows both.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import RowReport, Settings
from bench.studies import run_study


@dataclass(frozen=True)
class TransferPlan:
    """The row's studies (see the module's docstring): the same three for each (corpus, seed) of ``runs``."""

    fraction: float
    sample_trials: int
    warm_trials: int
    warm_top: int
    max_epochs: int
    runs: tuple[tuple[str, int], ...]  # (--data, --seed)

    @property
    def full_trials(self) -> int:
        return self.warm_trials + math.ceil(self.sample_trials * self.fraction)


@dataclass(frozen=True)
class StudyOutcome:
    test_ndcg: float
    validation_ndcg: float
    training_seconds: float  # every epoch of every trial, Keras fit alone
    playlist_epochs: float  # epochs run x the fraction of the playlists they trained on
    wall_seconds: float  # the whole command
    command: str
    winner: dict  # the winner's hyperparameters (without its seed and epochs)


def training_seconds(study: Path) -> tuple[float, int]:
    """(training seconds summed over every reported epoch of every trial, epochs reported)."""
    seconds, epochs = 0.0, 0
    for result_file in sorted(study.glob("trial_*/result.json")):
        for line in result_file.read_text().splitlines():
            if line.strip():
                result = json.loads(line)
                seconds += float(result.get("train_seconds", 0.0))
                epochs += 1
    return seconds, epochs


def _outcome(storage: Path, name: str, options: list[str], fraction: float) -> StudyOutcome:
    study = run_study(storage, name, options, timeout=6 * 3600)
    model = json.loads((study.path / "export" / "model.json").read_text())
    metrics = model["metrics"]
    seconds, epochs = training_seconds(study.path)
    winner = {key: value for key, value in model.get("hyperparameters", {}).items() if key not in ("seed", "epochs")}
    return StudyOutcome(metrics["winner_test_ndcg_at_10"], metrics["winner_val_ndcg_at_10"], seconds,
                        epochs * fraction, study.wall_seconds, "track2vec-tune run " + " ".join(options), winner)


def corpus_name(data: str) -> str:
    """A short label: the built-in corpus' spec, else the file's name without its extension."""
    return data if data.startswith("builtin") else Path(data).stem


def run(settings: Settings) -> RowReport:
    plan: TransferPlan = settings.transfer
    report = RowReport(9, f"Transfer: a study on a {plan.fraction:.0%} sample + a short warm-started one on all the "
                          "data, vs the same training on all the data (winner's test NDCG@10)")
    for data, seed in plan.runs:
        name = corpus_name(data)
        with tempfile.TemporaryDirectory(prefix="track2vec-bench-transfer-") as directory:
            storage = Path(directory)
            common = ["--data", data, "--max-epochs", str(plan.max_epochs), "--seed", str(seed), "--no-dashboard"]
            sample = _outcome(storage, "sample", [*common, "--sample", str(plan.fraction),
                                                  "--trials", str(plan.sample_trials)], plan.fraction)
            warm = _outcome(storage, "warm", [*common, "--warm-start-from", str(storage / "sample"),
                                              "--warm-start-top", str(plan.warm_top), "--trials", str(plan.warm_trials)],
                            1.0)
            full = _outcome(storage, "full", [*common, "--trials", str(plan.full_trials)], 1.0)
        transfer_seconds = sample.training_seconds + warm.training_seconds
        # Seeded TPE draws the same first configurations in every study of a seed, so both sides can end
        # with the same winner: then the row compares nothing, and says so.
        same = warm.winner == full.winner
        report.add(f"{name}, seed {seed}: test NDCG@10, transfer vs all data", f"{warm.test_ndcg:.4f}",
                   f"{full.test_ndcg:.4f}", f"{warm.test_ndcg / full.test_ndcg:.3f}", ">= 1.0",
                   None if same else warm.test_ndcg >= full.test_ndcg,
                   "the same winning configuration on both sides" if same else "")
        report.add(f"{name}, seed {seed}: training seconds, transfer vs all data", f"{transfer_seconds:.0f} s",
                   f"{full.training_seconds:.0f} s", f"{transfer_seconds / full.training_seconds:.2f}", "",
                   None, f"playlist-epochs {sample.playlist_epochs + warm.playlist_epochs:.1f} vs "
                         f"{full.playlist_epochs:.1f}")
        report.detail(f"{name}, seed {seed} ({data}; studies in a temporary directory, commands as run):")
        for what, outcome in (("1. sample", sample), ("2. warm start", warm), ("3. all data", full)):
            report.detail(f"  {what:<14} {outcome.command}")
            report.detail(f"  {'':<14} winner: validation NDCG@10 {outcome.validation_ndcg:.4f}, test NDCG@10 "
                          f"{outcome.test_ndcg:.4f}; training {outcome.training_seconds:.0f} s over "
                          f"{outcome.playlist_epochs:.1f} playlist-epochs; wall {outcome.wall_seconds:.0f} s")
    return report
