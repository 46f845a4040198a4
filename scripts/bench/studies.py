"""Run the tuning service through its CLI (``python -m tune.cli run``) and read back what its trials did."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO, child_environment


@dataclass
class StudyRun:
    path: Path
    fit_seconds: float  # the driver's "finished in N s": Tuner.fit alone (no Ray start, no corpus load)
    wall_seconds: float  # the whole command
    log: str


@dataclass(frozen=True)
class EpochEvent:
    """One epoch of one trial, as Ray recorded it."""

    finished: float  # seconds on a clock common to the trials (Ray's timestamps, 1 s resolution)
    trial: str
    epoch: int
    ndcg: float


FINISHED = re.compile(r"study '[^']*' finished in ([\d.]+) s")


def run_study(storage: Path, name: str, options: list[str], timeout: float,
              env: dict[str, str | None] | None = None) -> StudyRun:
    """``track2vec-tune run --storage storage --name name *options`` in a subprocess; raises if it fails.

    ``env`` changes the subprocess' environment (see ``child_environment``).
    """
    command = [sys.executable, "-m", "tune.cli", "run", "--storage", str(storage), "--name", name,
               "--dashboard-port", "0", *options]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                               env=child_environment(env))
    wall = time.perf_counter() - started
    log = completed.stdout + completed.stderr
    (storage / f"{name}.log").write_text(log)
    if completed.returncode != 0:
        tail = " | ".join(log.strip().splitlines()[-4:])
        raise RuntimeError(f"track2vec-tune run exited with {completed.returncode} (log {storage / name}.log): {tail}")
    match = FINISHED.search(completed.stdout)
    return StudyRun(storage / name, float(match.group(1)) if match else wall, wall, log)


def epoch_events(study_path: Path) -> list[EpochEvent]:
    """Every reported epoch of every trial of a study, in the order they finished."""
    events = []
    for result_file in sorted(study_path.glob("*/result.json")):
        rows = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
        for row in rows:
            if "val_ndcg_at_10" not in row:
                continue
            events.append(EpochEvent(float(row["timestamp"]), str(row.get("trial_id", result_file.parent.name)),
                                     int(row["epoch"]), float(row["val_ndcg_at_10"])))
    return sorted(events, key=lambda e: (e.finished, e.epoch, e.trial))
