"""The README's cluster commands ("On an existing cluster"), read from the README and run as written.

One machine plays the cluster: a head started by ``ray start --head`` with token authentication on and
a second node joined by ``ray start --address``, each with its own home directory (its own
``~/.ray/auth_token``: the token travels as the README says), its own ``--temp-dir`` and its own ports.
Then ``track2vec-tune run --address``, ``ray job submit`` of a study, ``ray job stop`` and
``track2vec-tune resume``, as the README's blocks say. Every process started here is stopped by its pid,
found by a marker that it inherits in its environment from the shells the test starts (the daemons of
``ray start``, Ray's workers and the job's driver, which runs in a session of its own, alike); never
``ray stop``, which would stop other people's clusters on this machine.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tune.testing import FAST_SPACE_TOML, free_ports, optuna_trials, processes_with_environment, results, \
    trial_dirs, wait_for

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "### On an existing cluster"
# What the test puts in place of the README's placeholders and machine-specific values.
GCS_PORT, DASHBOARD_PORT, HEAD_IP, TOKEN = "6379", "8265", "<head-ip>", "<token>"
STORAGE = "/shared/track2vec-studies"
STUDY_OPTIONS = "--data /data/music_2.npy --trials 64 --cpus-per-trial 2"
MARKER = "TRACK2VEC_TEST_CLUSTER"  # in the environment of every process this test starts, and of their children
FINISHED = ("COMPLETE", "PRUNED")
JOB_TRIALS = 3  # more than the two CPUs run at once: the job still runs when its first trial reports
# Ports that `ray start` would otherwise take at fixed defaults, clashing between two nodes on one machine.
NODE_PORTS = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
              "metrics-export-port", "runtime-env-agent-port")
HEAD_PORTS = (*NODE_PORTS, "ray-client-server-port")


def cluster_blocks() -> list[list[str]]:
    """The command lines (comments left out) of each ```bash block of the README's cluster section."""
    text = README.read_text()
    start = text.index(SECTION)
    section = text[start:text.index("\n### ", start + len(SECTION))]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [[line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            for block in blocks]


def substitute(lines: list[str], values: dict[str, str]) -> list[str]:
    """``lines`` with each key of ``values`` replaced; every key must occur (the README changed otherwise)."""
    text = "\n".join(lines)
    for placeholder, value in values.items():
        assert placeholder in text, f"the README's cluster commands no longer contain {placeholder!r}"
        text = text.replace(placeholder, value)
    return text.splitlines()


def on_one_machine(lines: list[str], flags: str) -> list[str]:
    """Each ``ray start`` line with the flags that let several nodes share this machine."""
    return [f"{line} {flags}" if line.startswith("ray start") else line for line in lines]


@dataclass
class Machine:
    """One node (or shell) of the cluster on this machine: its own home and environment."""

    name: str
    home: Path
    env: dict[str, str]
    shells: int = 0  # started so far

    def shell(self, lines: list[str], timeout: float = 300) -> tuple[int, str, str]:
        """Run ``lines`` as one bash script in a new session; (exit status, stdout, stderr)."""
        self.shells += 1
        out, err = self.home / f"shell-{self.shells}.out", self.home / f"shell-{self.shells}.err"
        with open(out, "w") as stdout, open(err, "w") as stderr:  # files: daemons keep inherited pipes open
            process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], env=self.env,
                                       stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        return code, out.read_text(), err.read_text()


class OneMachineCluster:
    """Machines that share a marker in their environment; ``stop`` ends every process that carries it."""

    def __init__(self, root: Path) -> None:
        self.root, self.marker = root, uuid.uuid4().hex

    def machine(self, name: str) -> Machine:
        home = self.root / name
        home.mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
        env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                   RAY_USAGE_STATS_ENABLED="0", **{MARKER: self.marker})
        return Machine(name, home, env)

    def started(self) -> list[int]:
        return processes_with_environment(MARKER, self.marker)

    def stop(self) -> list[int]:
        """SIGTERM every process started here (each carries the marker), SIGKILL what is left after 2 s;
        returns the pids still alive after that (none, normally).

        The GCS, the raylets and their agents do not exit on SIGTERM alone (a longer grace only waits for
        the SIGKILL); the drivers and workers do, mostly within the grace (every process ends either way)."""
        for signal_number, grace in ((signal.SIGTERM, 2), (signal.SIGKILL, 10)):
            for pid in self.started():
                try:
                    os.kill(pid, signal_number)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while self.started() and time.monotonic() < deadline:
                time.sleep(0.5)
        return self.started()


@pytest.fixture
def one_machine_cluster():
    # A short root: Ray's Unix sockets live under each --temp-dir, and their paths must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="t2v-", dir="/tmp" if Path("/tmp").is_dir() else None))
    cluster = OneMachineCluster(root)
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def node_flags(machine: Machine, ports: list[int], names: tuple[str, ...]) -> str:
    flags = [f"--{name}={port}" for name, port in zip(names, ports)]
    return " ".join([*flags, f"--temp-dir={machine.home / 'ray'}", "--num-cpus=1"])


def tiny_study(config: Path, trials: int, max_epochs: int) -> str:
    return (f"--data builtin:tiny --config {config} --trials {trials} --max-epochs {max_epochs} "
            "--grace-period 1 --reduction-factor 2")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(),
                    reason="finding every process the cluster started (by its environment) needs Linux's /proc")
def test_the_readme_cluster_commands_run_as_written(tmp_path, one_machine_cluster):
    head_block, node_block, run_block, job_block = cluster_blocks()
    gcs, dashboard, *ports = free_ports(2 + len(HEAD_PORTS) + len(NODE_PORTS))
    head_ports, node_ports = ports[:len(HEAD_PORTS)], ports[len(HEAD_PORTS):]
    config = tmp_path / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    storage = tmp_path / "studies"
    head_ip, gcs_port, dashboard_port, storage_path = ({HEAD_IP: "127.0.0.1"}, {GCS_PORT: str(gcs)},
                                                      {DASHBOARD_PORT: str(dashboard)}, {STORAGE: str(storage)})
    head, node = one_machine_cluster.machine("head"), one_machine_cluster.machine("node")

    # 1. the head: a token in the head's ~/.ray/auth_token, printed; token authentication on
    code, out, err = head.shell(on_one_machine(substitute(head_block, {**gcs_port, **dashboard_port}),
                                               node_flags(head, head_ports, HEAD_PORTS)), timeout=180)
    assert code == 0, (out + err)[-3000:]
    token = (head.home / ".ray" / "auth_token").read_text().strip()
    assert token and token in out

    # 2. the second node joins with the token step 1 printed (its home has none)
    code, out, err = node.shell(on_one_machine(substitute(node_block, {**head_ip, **gcs_port, TOKEN: shlex.quote(token)}),
                                               node_flags(node, node_ports, NODE_PORTS)), timeout=180)
    assert code == 0, (out + err)[-3000:]
    assert not (node.home / ".ray" / "auth_token").exists()

    # a driver without RAY_AUTH_MODE=token is refused in one line that says what to set, and exits 2
    stranger = one_machine_cluster.machine("stranger")
    code, out, err = stranger.shell([f"track2vec-tune run --address 127.0.0.1:{gcs} --data builtin:tiny "
                                     f"--storage {storage} --name refused"], timeout=120)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"track2vec-tune: error: the Ray cluster at 127.0.0.1:{gcs} requires token authentication: "
                          "set RAY_AUTH_MODE=token in this shell"), err
    assert not (storage / "refused").exists()

    # 3. a study over both nodes, from the head's shell
    code, out, err = head.shell(substitute(run_block, {**head_ip, **gcs_port, **storage_path,
                                                   STUDY_OPTIONS: tiny_study(config, 2, 1)}))
    assert code == 0, (out + err)[-3000:]
    assert "Ray cluster: 2 node(s), 2 CPUs" in out and "study 'deezer-1' finished" in out
    reported = [result for path in trial_dirs(storage / "deezer-1").values() for result in results(path)]
    assert len({result["node_id"] for result in reported}) == 2  # one trial on each node
    assert (storage / "deezer-1" / "optuna.journal").is_file()

    # 4. the same study as a Ray job, stopped once a trial has reported, then resumed from the shell
    shell_setup = [line for line in run_block if line.startswith("export ")]
    submit, stop, resume = substitute(job_block, {**head_ip, **gcs_port, **dashboard_port, **storage_path,
                                                  STUDY_OPTIONS: tiny_study(config, JOB_TRIALS, 2)})
    study_dir = storage / "deezer-2"
    code, out, err = head.shell([*shell_setup, submit], timeout=120)
    assert code == 0, (out + err)[-3000:]
    wait_for(lambda: any(results(path) for path in trial_dirs(study_dir).values()), 300, what="a trial of the job")
    assert not (study_dir / "export").exists(), "the job's study ended before it could be stopped"
    code, out, err = head.shell([*shell_setup, stop], timeout=120)
    assert code == 0, (out + err)[-3000:]
    (job_log,) = (head.home / "ray").glob("session_latest/logs/job-driver-deezer-2.log")
    assert "study 'deezer-2' interrupted" in job_log.read_text(), job_log.read_text()[-3000:]  # it saved its state
    stopped = {trial.user_attrs["ray_trial_id"]: trial.state.name for trial in optuna_trials(study_dir, "deezer-2")}
    assert len([state for state in stopped.values() if state in FINISHED]) < JOB_TRIALS

    code, out, err = head.shell([*shell_setup, resume])
    assert code == 0, (out + err)[-3000:]
    assert "study 'deezer-2' finished" in out
    resumed = {trial.user_attrs["ray_trial_id"]: trial.state.name for trial in optuna_trials(study_dir, "deezer-2")}
    assert len(resumed) == JOB_TRIALS and set(resumed.values()) <= set(FINISHED)
    assert all(resumed[trial] == state for trial, state in stopped.items() if state in FINISHED)

    # everything this test started ends with its process groups and marker
    assert one_machine_cluster.started(), "the marker does not reach the cluster's processes"
    assert one_machine_cluster.stop() == []
