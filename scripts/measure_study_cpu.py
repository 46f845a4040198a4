"""Where a small study's CPU time goes: the driver, Ray's own processes, and the trial workers.

Runs the test suite's shared study (``tests/conftest.py``'s ``tiny_study``: builtin:tiny,
``tune.testing.FAST_SPACE_TOML``, 5 trials of at most 3 epochs, ASHA grace 1, reduction factor 2) as the
real ``track2vec-tune run`` in a fresh process, with the dashboard and without it (alternating,
``--repeats`` times each). Every process it starts carries a marker in its environment (Ray's daemons and
workers inherit it), and /proc is sampled while it runs, so each process' CPU seconds are counted until
it exits. Printed per run: wall time, CPU seconds by role, and from the trials' own results the seconds
of their first epochs (TensorFlow's tracing and XLA's compilation of the step happen there) against
their later ones. Linux only (/proc).

    python scripts/measure_study_cpu.py [--repeats 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "TRACK2VEC_MEASURE_STUDY"
TICKS = os.sysconf("SC_CLK_TCK")
# Ray's own processes, by what their command line names (the rest that carry the marker: the driver and workers).
RAY_DAEMONS = ("gcs_server", "raylet", "dashboard", "log_monitor", "monitor.py", "runtime_env", "agent.py")


def role(command: str, driver_pid: int, pid: int) -> str:
    if pid == driver_pid:
        return "driver (track2vec-tune run)"
    if "ray::" in command or "default_worker" in command or "setup_worker" in command:
        return "trial workers"
    if any(name in command for name in RAY_DAEMONS):
        return "Ray's daemons"
    return "other"


def cpu_seconds(pid: str) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def sample(marker: str, seen: dict[str, list]) -> None:
    """Update ``seen`` (pid -> [command, CPU seconds]) with every live process that carries ``marker``."""
    wanted = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cpu = cpu_seconds(entry.name)
            if entry.name not in seen:
                seen[entry.name] = [(entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"), cpu]
            seen[entry.name][0] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace") \
                or seen[entry.name][0]
            seen[entry.name][1] = max(seen[entry.name][1], cpu)
        except OSError:  # gone, or not ours
            continue


def first_and_later_epochs(study_dir: Path) -> tuple[list[float], list[float]]:
    first, later = [], []
    for result_file in study_dir.glob("trial_*/result.json"):
        for line in result_file.read_text().splitlines():
            result = json.loads(line)
            (first if result["epoch"] == 1 else later).append(result["train_seconds"])
    return first, later


def run_once(dashboard: bool, seed: int) -> dict:
    from tune.testing import FAST_SPACE_TOML, free_port

    with tempfile.TemporaryDirectory(prefix="t2v-cpu-") as root:
        config = Path(root) / "space.toml"
        config.write_text(FAST_SPACE_TOML)
        marker = uuid.uuid4().hex
        env = {**os.environ, MARKER: marker, "RAY_ADDRESS": ""}
        command = [sys.executable, "-m", "tune.cli", "run", "--data", "builtin:tiny", "--config", str(config),
                   "--trials", "5", "--max-epochs", "3", "--grace-period", "1", "--reduction-factor", "2",
                   "--seed", str(seed), "--storage", str(Path(root) / "studies"), "--name", "tiny",
                   *(["--dashboard-port", str(free_port())] if dashboard else ["--no-dashboard"])]
        seen: dict[str, list] = {}
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None:
            sample(marker, seen)
            time.sleep(0.2)
        wall = time.perf_counter() - started
        deadline = time.monotonic() + 10  # Ray's daemons outlive the driver by a moment
        while time.monotonic() < deadline:
            before = len([pid for pid in seen if Path(f"/proc/{pid}").exists()])
            sample(marker, seen)
            if not before:
                break
            time.sleep(0.2)
        if process.returncode != 0:
            raise SystemExit(f"the study failed (exit {process.returncode}): {' '.join(command)}")
        by_role: dict[str, float] = defaultdict(float)
        for pid, (cmd, cpu) in seen.items():
            by_role[role(cmd, process.pid, int(pid))] += cpu
        first, later = first_and_later_epochs(Path(root) / "studies" / "tiny")
    return {"wall": wall, "roles": dict(by_role), "first": first, "later": later}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for repeat in range(args.repeats):
        for dashboard in (True, False):
            result = run_once(dashboard, args.seed)
            runs[dashboard].append(result)
            roles = ", ".join(f"{name} {cpu:.1f}" for name, cpu in sorted(result["roles"].items(), key=lambda x: -x[1]))
            print(f"{'with' if dashboard else 'without'} dashboard, run {repeat + 1}: wall {result['wall']:.1f} s, "
                  f"CPU {sum(result['roles'].values()):.1f} s ({roles}); trials' first epochs "
                  f"{sum(result['first']):.1f} s in all (median {statistics.median(result['first']):.2f} s), "
                  f"later epochs median {statistics.median(result['later'] or [0]):.2f} s", flush=True)
    median = {dashboard: {"wall": statistics.median(r["wall"] for r in results),
                          "cpu": statistics.median(sum(r["roles"].values()) for r in results),
                          "workers": statistics.median(r["roles"].get("trial workers", 0) for r in results)}
              for dashboard, results in runs.items()}
    on, off = median[True], median[False]
    print(f"median over {args.repeats}: with the dashboard wall {on['wall']:.1f} s, CPU {on['cpu']:.1f} s "
          f"(trial workers {on['workers']:.1f} s, {on['workers'] / on['cpu']:.0%}); without it wall {off['wall']:.1f} s "
          f"({off['wall'] / on['wall']:.2f}x), CPU {off['cpu']:.1f} s ({off['cpu'] / on['cpu']:.2f}x); "
          f"CPU seconds per wall second: {on['cpu'] / on['wall']:.2f} with, {off['cpu'] / off['wall']:.2f} without")


if __name__ == "__main__":
    main()
