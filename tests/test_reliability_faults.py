"""Real faults in real processes: a killed trial worker, a node leaving the cluster, a full
disk under the study, an export killed mid-write. (A killed driver: tests/test_tune_resume.py.)
The two-node study also checks what a cluster is for: trials on both nodes, one copy of the corpus.

Each study is small (the built-in small corpus, 2-3 trials of a few epochs) and runs as the real
``track2vec-tune`` console script in its own process group, so that the kills hit real
processes. Epochs use small batches and a wide window, long enough to kill a worker in the
middle of one.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tune.testing import EVEN_EPOCHS_TOML, free_port, optuna_trials, results, trial_dirs, wait_for

# Epochs of a few seconds, so that a fault lands mid-study: builtin:tiny's are too quick to
# kill a worker between two epochs. No slower than that: every epoch of these studies is the suite's time.
SLOW_DATA = "builtin"
SLOW_EPOCHS = EVEN_EPOCHS_TOML + """\
batch_size = 256
window = 6
dim = { min = 8, max = 16 }
negatives = { min = 5, max = 6 }
"""


def kill_worker(pid: int) -> None:
    """SIGKILL a trial's worker process (Ray names it ray::ImplicitFunc...)."""
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    assert "ray::" in cmdline, f"pid {pid} is not a Ray worker: {cmdline!r}"
    os.kill(pid, signal.SIGKILL)


def error_lines(text: str, prog: str = "track2vec-tune") -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{prog}: error:")]


def cli_here(capfd, *args: str) -> subprocess.CompletedProcess:
    """``track2vec-tune ARGS`` in this process (no interpreter, Ray or TensorFlow to start again), with its
    standard output and error captured at the file descriptors, as a subprocess's would be."""
    from tune.cli import main

    capfd.readouterr()
    code = main(list(args))
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(["track2vec-tune", *args], code, out, err)


def trial_results(study_dir: Path) -> dict[str, list[dict]]:
    return {trial_id: results(path) for trial_id, path in trial_dirs(study_dir).items()}


def table(study_dir: Path) -> dict[str, dict]:
    with open(study_dir / "export" / "trials.csv") as handle:
        return {row["trial_id"]: row for row in csv.DictReader(handle)}


def optuna_by_trial(study_dir: Path, name: str) -> dict[str, list]:
    """Tune trial id -> its Optuna trials (exactly one is expected)."""
    by_trial: dict[str, list] = {}
    for frozen in optuna_trials(study_dir, name):
        by_trial.setdefault(frozen.user_attrs["ray_trial_id"], []).append(frozen)
    return by_trial


# ---------------------------------------------------------------------------------------------
# 1. Faults on a two-node cluster: a trial's worker process killed mid-epoch (twice, for one trial), and
#    the non-head node leaving mid-study. One study serves every scenario, and also checks what a cluster
#    is for (trials on both nodes, one copy of the corpus): each study costs the suite its fixed start-up.

# The driver as `track2vec-tune`, counting the corpora it puts into Ray's object store (written to argv[1]).
CORPUS_PUT_COUNTING_DRIVER = [sys.executable, "-c", """
import sys
import ray
import tune.cli as cli
from track2vec.corpus import Corpus

puts, real_put = [], ray.put
def counting_put(value, *args, **kwargs):
    if isinstance(value, Corpus):
        puts.append(value)
    return real_put(value, *args, **kwargs)
ray.put = counting_put
code = cli.main(sys.argv[2:])
open(sys.argv[1], "w").write(str(len(puts)))
sys.exit(code)
"""]


@pytest.mark.slow
def test_a_two_node_study_survives_a_killed_worker_and_a_node_leaving(tmp_path, two_node_cluster, tune_cli):
    """Two trials, one per node (one CPU each), with --max-failures 1.

    * Trial A runs on the second node, which leaves the cluster once A has reported an epoch: A
      continues from its last checkpoint on the head under the same id and completes (only the
      epoch in progress was lost).
    * Trial B runs on the head; its worker is killed once B has reported an epoch: B continues from
      its checkpoint. Killed again after its restart (its second failure, over --max-failures 1),
      B ends errored.
    The study still ends normally (exit 0, not 'interrupted'); Optuna holds one trial per Tune
    trial with one final state each; the driver put the corpus into the object store once and
    every trial, on either node, read it zero-copy."""
    cluster, worker = two_node_cluster
    node_ids = {node.node_id for node in cluster.list_all_nodes()}
    assert len(node_ids) == 2
    storage, name = tmp_path / "studies", "nodes"
    study_dir = storage / name
    config = tmp_path / "space.toml"
    config.write_text(SLOW_EPOCHS)
    log, puts = tmp_path / "run.log", tmp_path / "corpus_puts"
    # Room for B's restart to report an epoch before the last even when the driver records B's results late
    # (a loaded machine) and B is first seen, and killed, after its third epoch.
    max_epochs = 5
    run = tune_cli.start([str(puts), "run", "--data", SLOW_DATA, "--config", str(config), "--trials", "2",
                          "--max-epochs", str(max_epochs), "--grace-period", str(max_epochs), "--max-failures", "1",
                          "--address", cluster.address, "--storage", str(storage), "--name", name], log,
                         command=CORPUS_PUT_COUNTING_DRIVER)
    removal = threading.Thread(target=cluster.remove_node, args=(worker,), daemon=True)
    moved: list[str] = []  # A: the trial of the node that left
    kills: dict[str, list[tuple[int, float]]] = {}  # B -> (pid, time) of each kill of its worker
    try:
        def first_faults():
            """As soon as each trial has reported an epoch (it is then in the next one): remove the second
            node under the one running there, kill the worker of the one on the head."""
            assert run.poll() is None, log.read_text()[-3000:]
            for trial_id, reported in trial_results(study_dir).items():
                if not reported or trial_id in moved or trial_id in kills:
                    continue
                assert reported[-1]["epoch"] < max_epochs
                if reported[-1]["node_id"] == worker.node_id:
                    # Removing a node takes seconds: in a thread, so that B's worker is still killed in
                    # the epoch after its first report.
                    removal.start()
                    moved.append(trial_id)
                else:
                    kill_worker(reported[-1]["pid"])
                    kills[trial_id] = [(reported[-1]["pid"], time.time())]
            return moved and kills

        wait_for(first_faults, 300, 0.05, "an epoch of each trial")
        (a,), (b,) = moved, kills

        def b_restarted():
            assert run.poll() is None, log.read_text()[-3000:]
            fresh = [r for r in trial_results(study_dir)[b] if r["pid"] != kills[b][0][0]]
            return fresh and fresh[-1]

        restarted = wait_for(b_restarted, 300, 0.05, "trial B to report after its restart")
        assert restarted["epoch"] < max_epochs
        kill_worker(restarted["pid"])
        kills[b].append((restarted["pid"], time.time()))
        removal.join(timeout=120)
        assert not removal.is_alive(), "the second node did not leave within 120 s"
        assert run.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        tune_cli.stop(run)
    output = log.read_text()
    assert "Ray cluster: 2 node(s), 2 CPUs" in output
    assert "interrupted" not in output

    # the trials ran on both nodes; the driver put the corpus into the object store once, and every trial,
    # on either node, read its arrays zero-copy from there
    reported = trial_results(study_dir)
    assert set(reported) == {a, b}  # same trial ids: nothing was started afresh
    every = [result for results_of_trial in reported.values() for result in results_of_trial]
    assert {result["node_id"] for result in every} == node_ids
    assert puts.read_text() == "1"
    assert all(result["corpus_zero_copy"] for result in every)

    # A: epochs 1..max once each; on the head it began at the epoch after the last one it reported on the
    # node that left
    on_lost = [r for r in reported[a] if r["node_id"] == worker.node_id]
    after = [r for r in reported[a] if r["node_id"] != worker.node_id]
    assert on_lost and after, "the trial of the removed node never ran again"
    assert after[0]["restored_from_epoch"] == on_lost[-1]["epoch"]
    assert [r["epoch"] for r in reported[a]] == list(range(1, max_epochs + 1))
    # B: restarted once from its checkpoint, then errored at the second kill
    b_pids = [r["pid"] for r in reported[b]]
    assert b_pids[0] == kills[b][0][0] and b_pids[-1] == kills[b][1][0]
    b_after = [r for r in reported[b] if r["pid"] == kills[b][1][0]]
    assert b_after[0]["restored_from_epoch"] == max(r["epoch"] for r in reported[b] if r["pid"] == kills[b][0][0])
    assert b_after[0]["epoch"] == b_after[0]["restored_from_epoch"] + 1
    print(f"\nkilled worker: its trial reported again {b_after[0]['timestamp'] - kills[b][0][1]:.0f} s later "
          f"(restart, restore, one epoch); complete epochs lost: 0")

    # Optuna: one trial per Tune trial, one final state each, one value per epoch
    by_trial = optuna_by_trial(study_dir, name)
    assert {trial_id: len(frozen) for trial_id, frozen in by_trial.items()} == {a: 1, b: 1}
    assert by_trial[a][0].state.name == "COMPLETE"
    assert sorted(by_trial[a][0].intermediate_values) == list(range(1, max_epochs + 1))
    assert by_trial[b][0].state.name == "FAIL"

    rows = table(study_dir)
    assert rows[a]["status"] == "completed" and int(rows[a]["epochs"]) == max_epochs
    assert rows[b]["status"] == "errored"
    assert json.loads((study_dir / "export" / "model.json").read_text())["trial_id"] == a


# ---------------------------------------------------------------------------------------------
# 2. The storage fills up mid-study


@pytest.fixture
def small_filesystem(tmp_path):
    """A 16 MiB tmpfs: a disk that really fills up, for root too (chmod does not stop root)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_full_disk_stops_the_study_in_one_line_and_keeps_what_finished(tmp_path, small_filesystem, tune_cli, capfd):
    storage, name = small_filesystem / "studies", "full"
    study_dir = storage / name
    config = tmp_path / "space.toml"
    config.write_text(SLOW_EPOCHS)
    log, err = tmp_path / "run.log", tmp_path / "run.err"
    run = tune_cli.start(["run", "--data", SLOW_DATA, "--config", str(config), "--trials", "3",
                 "--max-epochs", "2", "--grace-period", "2", "--storage", str(storage), "--name", name,
                 "--dashboard-port", str(free_port())], log, err)
    try:
        def one_complete():  # from the trials' own files: opening the Optuna file while it is created races
            assert run.poll() is None, err.read_text()[-3000:]
            return [trial_id for trial_id, reported in trial_results(study_dir).items()
                    if any(r["epoch"] == 2 for r in reported)]

        finished = wait_for(one_complete, 300, 0.2, "a completed trial")
        filler = fill(small_filesystem)
        filled = time.time()
        code = run.wait(timeout=240)
    finally:
        tune_cli.stop(run)
    stopped_after = time.time() - filled
    print(f"\nrun stopped {stopped_after:.1f} s after the disk filled")

    # one clear line, last on stderr, naming the storage and the cause; exit status 1
    stderr = err.read_text()
    assert code == 1, stderr[-3000:]
    assert error_lines(stderr) == [stderr.strip().splitlines()[-1]]
    assert "No space left on device" in error_lines(stderr)[0] and str(study_dir) in error_lines(stderr)[0]
    assert stopped_after < 120

    # status reads what finished, with the disk still full
    done = cli_here(capfd, "status", "--name", name, "--storage", str(storage), "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["completed"] >= len(finished)

    # export cannot write: one line, and nothing half-written is left
    done = cli_here(capfd, "export", "--name", name, "--storage", str(storage))
    assert done.returncode == 2 and error_lines(done.stderr) == done.stderr.strip().splitlines()
    assert "No space left on device" in done.stderr
    assert not [p.name for p in study_dir.iterdir() if p.name.startswith(".export") or p.name == "export"]

    # Ray's state is written whole (tune.whole_files), so the full disk left the previous one; damage
    # it by hand (as a copy or a disk of another kind could), then: status still reads the trials from
    # their directories, and resume refuses in one line, before starting Ray.
    state = next(study_dir.glob("experiment_state-*.json"))
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    done = cli_here(capfd, "status", "--name", name, "--storage", str(storage), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["completed"] == status["completed"]
    done = cli_here(capfd, "resume", "--name", name, "--storage", str(storage))
    assert done.returncode == 1 and error_lines(done.stderr) == done.stderr.strip().splitlines()
    assert "damaged" in done.stderr and "Ray cluster" not in done.stdout

    # once there is space again, export writes the winner and the table of every trial
    filler.unlink()
    done = cli_here(capfd, "export", "--name", name, "--storage", str(storage))
    assert done.returncode == 0, done.stderr
    rows = table(study_dir)
    assert len(rows) >= 2  # the third trial may not have started before the disk filled
    for trial_id in finished:
        assert rows[trial_id]["status"] == "completed" and rows[trial_id]["epochs"] == "2"


# ---------------------------------------------------------------------------------------------
# 3. An export killed mid-write


def export_files(directory) -> dict[str, bytes]:
    """Every file of an export (the projector/ folder included) by relative path."""
    return {str(path.relative_to(directory)): path.read_bytes() for path in Path(directory).rglob("*") if path.is_file()}


WRITE_LARGE_EXPORT = """
import sys
import numpy as np
from track2vec.export import write_export
from track2vec.vocabulary import Vocabulary
n = 1_000_000
vocabulary = Vocabulary(np.array([f"track_{i}" for i in range(n)]), np.ones(n, dtype=np.int64))
write_export(sys.argv[1], np.ones((n, 64), dtype=np.float32), vocabulary, {"seed": 2}, force=True)
"""


@pytest.mark.slow
def test_export_killed_mid_write_leaves_the_previous_export(tmp_path):
    from track2vec.export import read_export, write_export
    from track2vec.vocabulary import Vocabulary

    out = tmp_path / "export"
    items = np.array(["track_1", "track_2", "track_3"])
    write_export(out, np.eye(3, dtype=np.float32), Vocabulary(items, np.array([3, 2, 1])), {"seed": 1})
    before = export_files(out)

    writer = subprocess.Popen([sys.executable, "-c", WRITE_LARGE_EXPORT, str(out)])
    try:
        staging = wait_for(lambda: writer.poll() is None and list(tmp_path.glob(".export.tmp-*/*")),
                           120, 0.005, "the staging directory to fill")
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert list(tmp_path.glob(".export.tmp-*")), "killed too late: the staging directory is gone"
    assert staging

    # the previous export is whole and readable; the half-written one is not in its place
    assert export_files(out) == before
    assert read_export(out).info["seed"] == 1
    assert not list(tmp_path.glob(".export.old-*"))


def test_tune_export_refuses_to_overwrite_without_force(tmp_path, tune_cli):
    """`track2vec-tune export` over an existing export: one line, exit 2, the export untouched."""
    from track2vec.export import write_export
    from track2vec.vocabulary import Vocabulary
    from tune.spec import StudySpec
    from tune.study import Study

    study = Study(str(tmp_path), "done")
    study.create()
    study.save_spec(StudySpec(name="done", trials=1, max_epochs=1))
    write_export(Path(study.export_path), np.eye(2, dtype=np.float32),
                 Vocabulary(np.array(["a", "b"]), np.array([2, 1])), {"seed": 1})
    before = export_files(study.export_path)
    done = tune_cli.run("export", "--name", "done", "--storage", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"track2vec-tune: error: {study.export_path} already exists; pass --force to replace it"]
    assert export_files(study.export_path) == before
