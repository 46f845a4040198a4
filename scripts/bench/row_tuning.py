"""Row 4: tuning efficiency, the notebook's 9-point grid over the exponent vs the service (TPE + ASHA).

Both use the Kosarak click-stream (31,088 training sessions, 9,379 items) with the same
split (the library's and the CLI's defaults: min_count 2, 10,000 validation pairs at
most) and the same number of epochs per full trial.

Why Kosarak: the curves compare maxima of validation NDCG@10, so the validation set
must be large enough for their differences to mean something. The built-in small
corpus has 1,378 validation pairs: one model's NDCG@10 there has a standard error of
0.0085, larger than the gaps the row was deciding on, and the grid's best is the
maximum of 54 such noisy values. Kosarak gives 10,000 pairs (standard error 0.002-0.003
at its NDCG@10), at about 2 s per epoch on 2 cores.

The grid follows the notebook's protocol: the exponent ``alpha`` takes the 9 values,
every other setting stays fixed (at TrainConfig's defaults), and every run trains all
epochs. The service is ``track2vec-tune run`` (TPE over the whole default search space,
ASHA stopping). Cost is counted in trial-epochs; the curves are
the best validation NDCG@10 reached after each trial-epoch, in the order they finished.

Each seed gives one paired comparison (the seed draws the split, the sampler, the models
and TPE, for the grid and the service alike); the target is judged on the median over seeds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from dataclasses import dataclass

from bench.common import KOSARAK, RowReport, Settings, load_corpus, median, text_table
from bench.studies import epoch_events, run_study

GRID_ALPHAS = (-1, -0.7, -0.5, -0.2, 0, 0.2, 0.5, 0.7, 1)  # the notebook's samp_coef_list
DATA = KOSARAK
TARGET_SHARE = 0.25


def best_so_far(values: list[float]) -> list[float]:
    """Running maximum: ``curve[i]`` is the best of the first ``i + 1`` trial-epochs."""
    curve, best = [], float("-inf")
    for value in values:
        best = max(best, value)
        curve.append(best)
    return curve


def first_reaching(curve: list[float], threshold: float) -> int | None:
    """Trial-epochs spent when the curve first reaches ``threshold`` (1-based), or None."""
    return next((index + 1 for index, value in enumerate(curve) if value >= threshold), None)


def value_at(curve: list[float], budget: int) -> float | None:
    """The best value after ``budget`` trial-epochs (the final one if fewer were spent)."""
    if not curve or budget < 1:
        return None
    return curve[min(budget, len(curve)) - 1]


def budgets(grid_total: int, service_total: int) -> list[int]:
    """Trial-epoch budgets at which the curves are printed: fractions of the grid's total, and both totals."""
    points = {max(1, round(grid_total * share)) for share in (1 / 9, 1 / 6, TARGET_SHARE, 1 / 3, 1 / 2, 2 / 3, 1)}
    return sorted(points | {service_total})


def curve_cell(curve: list[float], budget: int) -> str:
    value = value_at(curve, budget)
    if value is None:
        return "n/a"
    return f"{value:.4f}" + (f" (all {len(curve)} spent)" if budget > len(curve) else "")


def run_grid(epochs: int, seed: int = 0) -> tuple[list[float], list[str], float]:
    """The notebook's protocol with our trainer: (NDCG@10 of each trial-epoch in order, labels, seconds)."""
    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    corpus = load_corpus(DATA, seed=seed)
    values, labels = [], []
    started = time.perf_counter()
    for alpha in GRID_ALPHAS:
        history = Trainer(corpus, TrainConfig(alpha=alpha, epochs=epochs, seed=seed)).fit()
        values += history.history["val_ndcg_at_10"]
        labels.append(f"alpha {alpha:+g}: " + " ".join(f"{v:.4f}" for v in history.history["val_ndcg_at_10"]))
    return values, labels, time.perf_counter() - started


@dataclass
class Comparison:
    """One seed's grid and study, as best-so-far curves over trial-epochs."""

    seed: int
    grid_curve: list[float]
    service_curve: list[float]
    grid_labels: list[str]
    grid_seconds: float
    fit_seconds: float
    wall_seconds: float

    @property
    def grid_best(self) -> float:
        return self.grid_curve[-1]

    @property
    def service_best(self) -> float:
        return self.service_curve[-1] if self.service_curve else float("nan")

    @property
    def reached(self) -> int | None:
        return first_reaching(self.service_curve, self.grid_best)

    @property
    def share(self) -> float:
        """Trial-epochs to the grid's best over the grid's total; infinite if never reached."""
        return self.reached / len(self.grid_curve) if self.reached else float("inf")


def compare(settings: Settings, seed: int, storage: Path) -> Comparison:
    epochs, trials = settings.tune_epochs, settings.tune_trials
    grid_values, grid_labels, grid_seconds = run_grid(epochs, seed)
    study = run_study(storage, f"row4-seed{seed}", ["--data", DATA, "--trials", str(trials), "--max-epochs",
                                                    str(epochs), "--seed", str(seed)], timeout=3600)
    service_values = [event.ndcg for event in epoch_events(study.path)]
    return Comparison(seed, best_so_far(grid_values), best_so_far(service_values), grid_labels, grid_seconds,
                      study.fit_seconds, study.wall_seconds)


def run(settings: Settings) -> RowReport:
    from track2vec.config import TrainConfig

    report = RowReport(4, "Tuning efficiency: the notebook's grid over alpha vs TPE + ASHA (trial-epochs)")
    epochs, trials = settings.tune_epochs, settings.tune_trials
    with tempfile.TemporaryDirectory(prefix="track2vec-bench-tune-") as storage:
        comparisons = [compare(settings, seed, Path(storage)) for seed in settings.tune_seeds]
    grid_total = len(comparisons[0].grid_curve)
    for c in comparisons:
        report.add(f"seed {c.seed}: trial-epochs to reach the grid's best ({c.grid_best:.4f})",
                   f"{c.reached} ({c.share:.0%} of the grid's)" if c.reached else f"not reached in {len(c.service_curve)}",
                   f"{grid_total} (9 x {epochs})", f"{c.share:.2f}" if c.reached else "n/a", "", None,
                   f"best at the end {c.service_best:.4f} vs the grid's {c.grid_best:.4f}")
    share = median([c.share for c in comparisons])
    margin = median([c.service_best - c.grid_best for c in comparisons])
    seeds = f"median of {len(comparisons)} seed(s)" if len(comparisons) > 1 else f"seed {comparisons[0].seed}"
    report.add(f"trial-epochs to reach the grid's best, {seeds}",
               f"{share:.0%} of the grid's" if share != float("inf") else "not reached", f"{grid_total}",
               f"{share:.2f}" if share != float("inf") else "n/a", f"<= {TARGET_SHARE:.0%}", share <= TARGET_SHARE)
    report.add(f"best validation NDCG@10 at the end, ours - grid's, {seeds}", f"{margin:+.4f}", "", "",
               "above the grid's", margin > 0)
    defaults = TrainConfig().resolved(len(load_corpus(DATA).vocabulary))  # what the grid's trainers resolve
    report.detail(f"corpus {Path(DATA).name}; grid: alpha in {list(GRID_ALPHAS)}, every other setting at TrainConfig's default "
                  f"({defaults.architecture}, dim {defaults.dim}, window {defaults.window}, {defaults.negatives} negatives, "
                  f"subsample {defaults.subsample:g}, {defaults.optimizer} lr {defaults.learning_rate:g}, "
                  f"batch {defaults.batch_size}), {epochs} epochs each, serial")
    report.detail(f"service: track2vec-tune run --data {Path(DATA).name} --trials {trials} --max-epochs {epochs} --seed S (default "
                  f"search space, ASHA grace 1, reduction 3, 2 concurrent trials)")
    for c in comparisons:
        report.detail(f"seed {c.seed}: grid {c.grid_seconds:.0f} s in-process; study Tuner.fit {c.fit_seconds:.0f} s, "
                      f"command {c.wall_seconds:.0f} s; best validation NDCG@10 after N trial-epochs:")
        table = [[str(b), curve_cell(c.grid_curve, b), curve_cell(c.service_curve, b)]
                 for b in budgets(grid_total, len(c.service_curve))]
        report.details += ["  " + line for line in text_table(table, ["trial-epochs", "grid", "service"]).splitlines()]
        report.detail("  grid runs (validation NDCG@10 per epoch):")
        report.details += ["    " + label for label in c.grid_labels]
    return report
