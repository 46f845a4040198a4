"""A study's time on an N-node Ray cluster, projected from real multi-node runs on this machine.

For each node count given (``--nodes 1 2``), this starts a real Ray cluster of that many raylets on this
machine (``ray.cluster_utils.Cluster``, ``--cpus-per-node`` CPUs each, token authentication as by default)
and runs the same study on it with ``track2vec-tune run --address`` (from a fresh process, its imports
timed, the cluster's start not): every trial has the same cost (the space fixes everything that changes
an epoch's work and searches only the learning rate and the negative-sampling exponent), and ASHA stops
nothing (grace period = max epochs), so the trials' work does not depend on the node count.

A study is then ``serial + overhead + waves x trial``: the driver's own time outside the tuning loop
(imports, Ray connection, corpus, final evaluation, export), the rest of the loop beyond its trials, and
one trial's time per wave of trials run at once (``ceil(trials / concurrent)``, ``concurrent = nodes x
cpus-per-node / cpus-per-trial``), each measured in each run. The one-node run gives the optimistic model
(trials on cores of their own), the largest run the pessimistic one (its nodes share this machine's
cores, with the driver and every node's daemons); the projection applies both to larger clusters and
studies. It assumes nodes as fast as this machine's, storage and object transfers that do not slow down
with more nodes, and every trial as long as the others (ASHA, which stops trials early, shortens the
waves it acts on).

    python scripts/measure_cluster_scaling.py [--data builtin] [--trials 8] [--max-epochs 3] [--nodes 1 2]
        [--project 4 8 16 32] [--project-trials 64]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# Every choice that changes an epoch's work is fixed; the two searched ones do not change it.
EVEN_TRIALS_TOML = """\
architecture = "softmax"
artist_vectors = false
direction = "forward"
shrink_windows = false
dim = 32
window = 3
negatives = 5
batch_size = 1024
subsample = 1e-3
optimizer = "adam"
learning_rate = { min = 1e-3, max = 3e-2 }
alpha = { min = -1.0, max = 1.0 }
"""

RESULT = "RESULT "  # how a measuring process hands its Run back


@dataclass(frozen=True)
class Run:
    """One study on a cluster of ``nodes`` nodes."""

    nodes: int
    concurrent: int  # trials at once
    wall: float  # the driver process, start to exit
    loop: float  # the tuning loop (run's "finished in")
    trial_seconds: list[float]  # each trial's own time (Ray's time_total_s)

    @property
    def serial(self) -> float:
        return self.wall - self.loop


@dataclass(frozen=True)
class Model:
    """``wall = serial + overhead + ceil(trials / concurrent) x trial``."""

    serial: float  # the driver outside the tuning loop
    overhead: float  # the loop beyond its waves of trials (scheduling, checkpoints, the searcher)
    trial: float  # one trial, start to end

    def wall(self, trials: int, concurrent: int) -> float:
        return self.serial + self.overhead + waves(trials, concurrent) * self.trial

    @classmethod
    def of_run(cls, run: Run, trials: int) -> "Model":
        """The model of one measured run: its serial part, its trials' mean time, and what is left of its loop."""
        trial = sum(run.trial_seconds) / len(run.trial_seconds)
        return cls(run.serial, run.loop - waves(trials, run.concurrent) * trial, trial)


def waves(trials: int, concurrent: int) -> int:
    """How many rounds of trials ``concurrent`` slots take for ``trials`` equal trials."""
    return math.ceil(trials / concurrent)


def run_study(nodes: int, args: argparse.Namespace, root: Path) -> Run:
    """The study on ``nodes`` nodes, measured by a fresh process of this script (``--measure-nodes``).

    That process creates the cluster and runs the study itself: a ``track2vec-tune`` started as a
    subprocess of the process that created a ``Cluster`` had its trials' actors cancelled before they
    ran (the cause is not found; a cluster of ``ray start`` nodes does not do this).
    """
    command = [sys.executable, __file__, "--measure-nodes", str(nodes), "--root", str(root)] + [
        f"--{name.replace('_', '-')}={value}" for name, value in vars(args).items()
        if name in ("data", "trials", "max_epochs", "cpus_per_node", "cpus_per_trial", "seed")]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "RAY_ADDRESS": ""})
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        sys.exit(f"measure_cluster_scaling: the study on {nodes} node(s) failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return Run(**json.loads(lines[-1][len(RESULT):]))


def measure(nodes: int, args: argparse.Namespace) -> Run:
    """Start a cluster of ``nodes`` nodes, run the study on it from this process (imports included)."""
    from ray.cluster_utils import Cluster

    root = Path(args.root)
    config = root / "space.toml"
    config.write_text(EVEN_TRIALS_TOML)
    name = f"nodes-{nodes}"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus_per_node})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=args.cpus_per_node)
        cluster.wait_for_nodes()
        started = time.perf_counter()
        from tune import driver  # the driver's imports count, as in a fresh `track2vec-tune`
        from tune.cli import main as tune_main

        # The tuning loop's seconds, as run measures them (its "finished in" line rounds them).
        loop_seconds: list[float] = []
        fit = driver._fit
        driver._fit = lambda *fit_args: loop_seconds.append(fit(*fit_args)) or loop_seconds[-1]

        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            code = tune_main(["run", "--data", args.data, "--config", str(config), "--trials", str(args.trials),
                              "--max-epochs", str(args.max_epochs), "--grace-period", str(args.max_epochs),
                              "--cpus-per-trial", str(args.cpus_per_trial), "--seed", str(args.seed),
                              "--address", cluster.address, "--storage", str(root), "--name", name])
        wall = time.perf_counter() - started
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    if code != 0:
        sys.exit(f"measure_cluster_scaling: run exited {code}:\n{output.getvalue()[-3000:]}")
    loop = sum(loop_seconds)
    trial_seconds = []
    for result in sorted((root / name).glob("trial_*/result.json")):
        lines = [line for line in result.read_text().splitlines() if line.strip()]
        trial_seconds.append(json.loads(lines[-1])["time_total_s"])
    concurrent = int(nodes * args.cpus_per_node // args.cpus_per_trial)
    return Run(nodes, concurrent, wall, loop, trial_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="builtin")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2], help="node counts to run for real")
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--cpus-per-trial", type=int, default=1)
    parser.add_argument("--project", type=int, nargs="+", default=[4, 8, 16, 32], help="node counts to project")
    parser.add_argument("--project-trials", type=int, default=64, help="a larger study to project too")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure-nodes", type=int, help=argparse.SUPPRESS)  # internal: one measuring process
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_nodes:
        run = measure(args.measure_nodes, args)
        print(RESULT + json.dumps(asdict(run)), flush=True)
        return

    runs = []
    with tempfile.TemporaryDirectory(prefix="cluster-scaling-") as directory:
        for nodes in sorted(args.nodes):
            run = run_study(nodes, args, Path(directory))
            runs.append(run)
            mean_trial = sum(run.trial_seconds) / len(run.trial_seconds)
            print(f"{nodes} node(s) x {args.cpus_per_node} CPU, {run.concurrent} trial(s) at once: study {run.wall:.1f} s "
                  f"(tuning loop {run.loop:.0f} s, outside it {run.serial:.1f} s); {len(run.trial_seconds)} trials, "
                  f"each {mean_trial:.1f} s on average", flush=True)
    # On one machine the nodes share its cores: the largest run's trials are slower than on a real
    # cluster's own cores (the pessimistic model); the one-node run's are not (the optimistic one).
    optimistic, pessimistic = Model.of_run(runs[0], args.trials), Model.of_run(runs[-1], args.trials)
    for label, model in (("optimistic", optimistic), ("pessimistic", pessimistic)):
        print(f"model ({label}): study = {model.serial:.1f} s outside the loop + {model.overhead:.1f} s loop "
              f"overhead + waves x {model.trial:.1f} s per trial")
    largest = runs[-1]
    print(f"  check: the {runs[0].nodes}-node model predicts {optimistic.wall(args.trials, largest.concurrent):.1f} s "
          f"for {largest.nodes} nodes, measured {largest.wall:.1f} s (the rest: the nodes sharing this machine's cores)")
    base = runs[0]
    for trials in dict.fromkeys((args.trials, args.project_trials)):
        for nodes in args.project:
            concurrent = int(nodes * args.cpus_per_node // args.cpus_per_trial)
            low, high = optimistic.wall(trials, concurrent), pessimistic.wall(trials, concurrent)
            speedup = optimistic.wall(trials, base.concurrent) / low
            print(f"  projected, {nodes} nodes, {trials} trials ({waves(trials, concurrent)} wave(s)): "
                  f"{low:.0f}-{high:.0f} s, {speedup:.1f}x the {base.nodes}-node time")

if __name__ == "__main__":
    main()
