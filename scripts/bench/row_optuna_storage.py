"""Row 7: the study's Optuna storage, Optuna's journal file against SQLite, for our write pattern.

The driver is the only writer: per trial it asks TPE for a configuration (which reads every
trial), links the Optuna trial to its Tune trial, reports each epoch's validation NDCG@10
(reading the trial back first) and tells the end. Here ``PruningOptunaSearch`` is driven
by hand with that pattern, as a study of ``optuna_trials`` trials with a few in flight,
epochs 1 to 9 and ASHA-like stops at epochs 1 and 3, on the storage ``tune.optuna_store``
opens for each kind of study; then ``status`` reads the study back once. The two storages
alternate, each in a fresh study directory under the system's temporary directory.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import RowReport, Settings, alternate, median, paired_ratios, seconds, spread, times

IN_FLIGHT = 4  # trials running at once, as on a small cluster
MAX_EPOCHS = 9
RUNGS = (1, 3)  # ASHA with grace period 1 and reduction factor 3 judges trials here
STOP_AT_RUNG = 2 / 3  # and keeps a third of them
BACKENDS = ("journal", "sqlite")


def stop_epochs(trials: int, seed: int = 0) -> list[int]:
    """The epoch each trial ends at: a rung where ASHA stops it, else the last epoch."""
    rng = random.Random(seed)
    ends = []
    for _ in range(trials):
        stopped = [rung for rung in RUNGS if rng.random() < STOP_AT_RUNG]
        ends.append(stopped[0] if stopped else MAX_EPOCHS)
    return ends


def drive_study(search, ends: list[int], seed: int = 0) -> int:
    """Suggest, report and complete trials as the driver does, ``IN_FLIGHT`` at a time; returns the results reported."""
    rng = random.Random(seed)
    running: dict[str, int] = {}  # trial id -> epochs reported
    started = reported = 0
    while started < len(ends) or running:
        while len(running) < IN_FLIGHT and started < len(ends):
            trial_id = f"t{started:04d}"
            search.suggest(trial_id)
            running[trial_id] = 0
            started += 1
        trial_id = rng.choice(sorted(running))
        running[trial_id] += 1
        epoch, value = running[trial_id], rng.random() * 0.2
        result = {"epoch": epoch, "val_ndcg_at_10": value, "best_val_ndcg_at_10": value}
        reported += 1
        if epoch >= ends[int(trial_id[1:])]:
            search.on_trial_complete(trial_id, result)
            del running[trial_id]
        else:
            search.on_trial_result(trial_id, result)
    return reported


def one_study(backend: str, trials: int) -> dict[str, float]:
    """A study on ``backend`` in a fresh directory: the driver's seconds, then the seconds of one ``status`` read."""
    from tune import optuna_store
    from tune.search_space import build_space
    from tune.searcher import PruningOptunaSearch, make_sampler
    from tune.spec import StudySpec
    from tune.study import Study

    root = Path(tempfile.mkdtemp(prefix="t2v-optuna-"))
    try:
        study, spec = Study(str(root), "s"), StudySpec("s", optuna_backend=backend)
        study.create()
        started = time.perf_counter()
        search = PruningOptunaSearch(
            build_space().distributions, metric="val_ndcg_at_10", objective="best_val_ndcg_at_10", step_attr="epoch",
            max_steps=MAX_EPOCHS, sampler=make_sampler(0, trials), study_name="s",
            storage=optuna_store.storage(study, spec))
        reported = drive_study(search, stop_epochs(trials))
        driver = time.perf_counter() - started
        started = time.perf_counter()
        counts = optuna_store.state_counts(study, spec)
        status = time.perf_counter() - started
        assert sum(counts.values()) == trials, counts
        return {"driver": driver, "status": status, "reported": reported,
                "bytes": sum(path.stat().st_size for path in (root / "s").iterdir())}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def file_system(path: str) -> str:
    """The type of the file system that holds ``path`` (from /proc/mounts; "unknown" elsewhere)."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    path = str(Path(path).resolve())
    best = max((mount for mount in mounts if path == mount[0] or path.startswith(mount[0].rstrip("/") + "/")),
               key=lambda mount: len(mount[0]), default=None)
    return best[1] if best else "unknown"


def run(settings: Settings) -> RowReport:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = RowReport(7, "Optuna storage: the journal file vs SQLite, for the driver's write pattern")
    trials = settings.optuna_trials
    samples = alternate({backend: (lambda b=backend: one_study(b, trials)) for backend in BACKENDS}, settings.rounds)
    driver = {backend: [s.value["driver"] for s in values] for backend, values in samples.items()}
    status = {backend: [s.value["status"] for s in values] for backend, values in samples.items()}
    ratios = paired_ratios(driver["sqlite"], driver["journal"])
    report.add(f"driver's Optuna time, {trials} trials", seconds(median(driver["journal"])),
               seconds(median(driver["sqlite"])), times(median(ratios)), "<= SQLite's", median(ratios) >= 1.0,
               "ours: journal file; baseline: SQLite")
    report.add("status: read the study back", seconds(median(status["journal"])), seconds(median(status["sqlite"])),
               times(median(paired_ratios(status["sqlite"], status["journal"]))))
    first = samples["journal"][0].value
    report.detail(f"{trials} trials, {IN_FLIGHT} in flight, epochs up to {MAX_EPOCHS}, ASHA-like stops at epochs "
                  f"{RUNGS} (each with probability {STOP_AT_RUNG:.2f}): {first['reported']} results reported; "
                  f"{settings.rounds} alternating rounds")
    report.detail(f"study directories under {tempfile.gettempdir()} ({file_system(tempfile.gettempdir())})")
    for backend in BACKENDS:
        report.detail(f"  {backend:8} driver (s) {spread(driver[backend], '{:.2f}')}; status (s) "
                      f"{spread(status[backend], '{:.3f}')}; file {samples[backend][0].value['bytes'] / 1024:,.0f} KiB")
    report.detail(f"  SQLite / journal driver time per round: {spread(ratios, '{:.2f}')}")
    return report
