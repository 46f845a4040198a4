"""Resume: a study whose driver is killed continues where it stopped.

The first run is a real ``track2vec-tune run`` subprocess. While it runs, the Ray
dashboard must answer on 127.0.0.1 and list the trial actors, listen on no other address
and refuse requests without Ray's token (which appears nowhere in the output or the study
directory). Once some trials have finished and another has checkpointed a few epochs, the
driver is SIGKILLed (no chance to save anything), then ``track2vec-tune resume`` finishes
the study.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import JAX_BACKEND, TENSORFLOW_UNIMPORTABLE
from tune import optuna_store
from tune.cli import main
from tune.study import Study
from tune.testing import EVEN_EPOCHS_TOML, FAST_SPACE_TOML, auth_token, free_port, http_get_json, optuna_trials, results, trial_dirs, wait_for

TRIALS, MAX_EPOCHS = 3, 5
# Small batches and a wide window on builtin small make epochs slow enough to catch a trial
# mid-way (builtin:tiny's are too quick); after ASHA's rung at epoch 2 a survivor runs three more
# epochs, long enough to be caught mid-way and short enough for resume to finish it soon.
DATA = "builtin"
# The rate's schedule is fixed too: the trials' draws and ASHA's decisions stay those the timings above suit.
SPACE = EVEN_EPOCHS_TOML + """\
lr_schedule = "constant"
batch_size = 256
window = 6
dim = { min = 8, max = 32 }
negatives = { min = 5, max = 10 }
subsample = { min = 1e-2, max = 1e-1 }
learning_rate = { min = 1e-2, max = 1e-1 }
"""
FINISHED = ("COMPLETE", "PRUNED")


def dashboard_lists_trial_actors(log: Path, study_dir: Path) -> bool:
    match = re.search(r"Ray dashboard: (http://127\.0\.0\.1:\d+)", log.read_text())
    if not match:
        return False
    reply = http_get_json(f"{match.group(1)}/api/v0/actors?limit=1000&detail=true")
    actors = [actor for actor in reply["data"]["result"]["result"]
              if actor["state"] == "ALIVE" and actor.get("repr_name") == "train_trial"]
    trial_pids = {result["pid"] for path in trial_dirs(study_dir).values() for result in results(path)}
    return bool({actor["pid"] for actor in actors} & trial_pids)


def dashboard_is_private(log: Path) -> None:
    """The dashboard that run started listens on 127.0.0.1 only and asks for Ray's token."""
    port = int(re.search(r"Ray dashboard: http://127\.0\.0\.1:(\d+)", log.read_text()).group(1))
    outside = non_loopback_address()
    if outside:
        with pytest.raises(OSError):
            socket.create_connection((outside, port), timeout=3).close()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v0/actors?limit=5", timeout=10)
    assert refused.value.code in (401, 403)


def non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: only picks the outgoing interface
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def resumable_in_snapshot(study_dir: Path) -> set[str]:
    """Unfinished trials with a checkpoint in Ray's last saved experiment state.

    Ray may save a trial as TERMINATED (stopped by ASHA) a moment before Optuna hears of it;
    such a trial is finished, not mid-way, and resume rightly does not run it again.
    """
    from tune.reader import read_analysis

    try:
        trials = read_analysis(Study(str(study_dir.parent), study_dir.name)).trials
    except Exception:  # Ray has not saved one yet
        return set()
    return {trial.trial_id for trial in trials
            if trial.checkpoint is not None and trial.status not in ("TERMINATED", "ERROR")}


def checkpoint_epochs_in_snapshot(study_dir: Path) -> dict[str, int]:
    """Trial id -> epoch of its checkpoint in Ray's saved experiment state (what resume starts from)."""
    from tune.reader import read_analysis

    epochs = {}
    for trial in read_analysis(Study(str(study_dir.parent), study_dir.name)).trials:
        metrics = Path(trial.checkpoint.path) / "metrics.json" if trial.checkpoint is not None else None
        if metrics is not None and metrics.exists():
            epochs[trial.trial_id] = json.loads(metrics.read_text())["epoch"]
    return epochs


@pytest.mark.slow
def test_killed_study_resumes_without_rerunning_finished_trials(tmp_path, capsys, tune_cli):
    storage, name = tmp_path / "studies", "killed"
    study_dir = storage / name
    config = tmp_path / "space.toml"
    config.write_text(SPACE)
    log = tmp_path / "run.log"
    run = tune_cli.start(["run", "--data", DATA, "--config", str(config), "--trials", str(TRIALS),
                 "--max-epochs", str(MAX_EPOCHS), "--grace-period", "2", "--reduction-factor", "3",
                 "--storage", str(storage), "--name", name, "--dashboard-port", str(free_port())], log)
    try:
        wait_for(lambda: (study_dir / "optuna.journal").exists() or run.poll() is not None, 180, what="the study")
        assert run.poll() is None, log.read_text()
        wait_for(lambda: dashboard_lists_trial_actors(log, study_dir), 120, interval=1,
                 what="the dashboard to list the trial actors")
        dashboard_is_private(log)

        def ready():
            assert run.poll() is None, "the study ended before it could be interrupted"
            trials = optuna_trials(study_dir, name)
            finished = [t for t in trials if t.state.name in FINISHED]
            running = [t for t in trials
                       if t.state.name == "RUNNING" and 2 <= len(t.intermediate_values) <= MAX_EPOCHS - 2]
            # Resume continues from the last checkpoint in Ray's snapshot: wait until there is one.
            recorded = resumable_in_snapshot(study_dir)
            running = [t for t in running if t.user_attrs["ray_trial_id"] in recorded]
            return finished and running and (finished, running)

        finished, running = wait_for(ready, 180, interval=0.2, what="a finished trial and one mid-way")
        kill_time = time.time()
        tune_cli.kill_driver(run)
    finally:
        if run.poll() is None:
            tune_cli.kill_driver(run)
    before = {t.user_attrs["ray_trial_id"]: (t.state.name, dict(t.intermediate_values)) for t in finished}
    # what resume will see: a snapshot written between the last check and the kill may have finished one,
    # and so may Optuna, which is written at once (ASHA stopped it at a rung): resume never reruns that one
    finished_at_kill = {t.user_attrs["ray_trial_id"] for t in optuna_trials(study_dir, name) if t.state.name in FINISHED}
    mid_way = ({t.user_attrs["ray_trial_id"] for t in running} & resumable_in_snapshot(study_dir)) - finished_at_kill
    snapshot_epochs = checkpoint_epochs_in_snapshot(study_dir)
    reported_epochs = {trial_id: max((r["epoch"] for r in results(path)), default=0)
                       for trial_id, path in trial_dirs(study_dir).items()}

    # status and export read the interrupted study from storage alone
    assert main(["status", "--name", name, "--storage", str(storage), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["running"] >= 1 and status["completed"] + status["stopped_early"] >= 1
    assert main(["export", "--name", name, "--storage", str(storage)]) == 0
    with open(study_dir / "export" / "trials.csv") as handle:
        assert "running" in {row["status"] for row in csv.DictReader(handle)}

    resume_log = tmp_path / "resume.log"
    resume = tune_cli.start(["resume", "--name", name, "--storage", str(storage), "--dashboard-port", str(free_port())],
                   resume_log)
    resume_started = time.time()
    assert resume.wait(timeout=600) == 0, resume_log.read_text()[-3000:]
    resume_seconds = time.time() - resume_started
    output = resume_log.read_text()
    assert "track2vec-tune: error" not in output
    # The only traceback allowed is one Ray logs (and survives) when the kill came between its
    # deleting an old checkpoint and its next snapshot: it then fails to delete it again.
    assert output.count("Traceback") == output.count("Error handling checkpoint")

    # the study ends with the number of trials first asked for
    trials = optuna_trials(study_dir, name)
    done = {t.user_attrs["ray_trial_id"]: t for t in trials if t.state.name in FINISHED}
    assert len(done) == TRIALS
    assert not [t for t in trials if t.state.name == "RUNNING"]
    assert len(trial_dirs(study_dir)) == TRIALS
    with open(study_dir / "export" / "trials.csv") as handle:
        table = {row["trial_id"]: row for row in csv.DictReader(handle)}
    assert len(table) == TRIALS
    for trial_id, row in table.items():  # the table agrees with Optuna, even for the last epochs before the kill
        assert int(row["epochs"]) == max(done[trial_id].intermediate_values)
        assert row["status"] == {"COMPLETE": "completed", "PRUNED": "stopped early"}[done[trial_id].state.name]

    # no trial finished before the kill ran again
    for trial_id, (state, values) in before.items():
        assert done[trial_id].state.name == state
        assert dict(done[trial_id].intermediate_values) == values
        assert all(result["timestamp"] <= kill_time for result in results(trial_dirs(study_dir)[trial_id]))

    # an unfinished trial continued from its checkpoint: epochs go on, they do not restart at 1
    continued = []
    for trial_id, path in trial_dirs(study_dir).items():
        after = [r for r in results(path) if r["timestamp"] > kill_time]
        if trial_id in mid_way or any(r["restored_from_epoch"] for r in after):
            restored = [r for r in after if r["restored_from_epoch"] > 0]
            if restored:
                first = restored[0]
                assert first["epoch"] == first["restored_from_epoch"] + 1
                assert all(r["epoch"] > 1 for r in restored)
                continued.append(trial_id)
    assert continued, "no unfinished trial continued from a checkpoint"
    for trial_id in continued:  # Optuna has one value per epoch, no step twice
        steps = sorted(done[trial_id].intermediate_values)
        assert steps == list(range(1, len(steps) + 1))

    # every mid-way trial went on from its checkpoint in Ray's last snapshot, not from scratch; it
    # re-ran at most the epochs it had reported after that snapshot (Ray snapshots every 2 s)
    rerun = {}
    for trial_id in mid_way:
        after = [r for r in results(trial_dirs(study_dir)[trial_id]) if r["timestamp"] > kill_time]
        assert after, f"mid-way trial {trial_id} did not run again"
        assert after[0]["restored_from_epoch"] > 0 and after[0]["epoch"] == after[0]["restored_from_epoch"] + 1
        if trial_id in snapshot_epochs:
            assert after[0]["restored_from_epoch"] == snapshot_epochs[trial_id]
        rerun[trial_id] = reported_epochs[trial_id] - after[0]["restored_from_epoch"]
    # nothing secret: Ray's token is not in the output of run or resume, nor in any file of the study
    token = auth_token()
    if token:
        assert token not in log.read_text() and token not in output
        for path in study_dir.rglob("*"):
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path
    print(f"\nresume took {resume_seconds:.0f} s; epochs re-run per mid-way trial: {rerun}; "
          f"finished trials re-run: 0 of {len(before)}")


# track2vec-tune before journal storage: new studies kept Optuna in SQLite (optuna.db). Run here on Keras' JAX
# backend with TensorFlow unimportable (as on a GPU machine that has JAX and no TensorFlow), so that the same
# study also checks that backend end to end, resume included: each study costs the suite its fixed start-up.
WITHOUT_TENSORFLOW = TENSORFLOW_UNIMPORTABLE + "import tune.cli as cli, tune.run; "
EARLIER_VERSION = [sys.executable, "-c", WITHOUT_TENSORFLOW + "tune.run.NEW_STUDY_OPTUNA_BACKEND = 'sqlite'; "
                   "sys.exit(cli.main(sys.argv[1:]))"]
CURRENT_VERSION = [sys.executable, "-c", WITHOUT_TENSORFLOW + "sys.exit(cli.main(sys.argv[1:]))"]


def as_written_before_journal_storage(study_json: Path) -> None:
    """study.json as the earlier version wrote it: format version 1, no optuna_backend."""
    values = json.loads(study_json.read_text())
    assert values.pop("optuna_backend") == "sqlite"
    study_json.write_text(json.dumps({**values, "format_version": 1}, indent=2))


@pytest.mark.slow
def test_a_sqlite_study_of_an_earlier_version_is_read_and_resumed_on_jax_without_tensorflow(tmp_path, capsys,
                                                                                           tune_cli):
    trials, max_epochs = 3, 3
    storage, name = tmp_path / "studies", "old"
    study_dir = storage / name
    config = tmp_path / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    tune_cli.env.update(JAX_BACKEND)
    log = tmp_path / "run.log"
    run = tune_cli.start(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", str(trials),
                          "--max-epochs", str(max_epochs), "--grace-period", "1", "--reduction-factor", "2",
                          "--storage", str(storage), "--name", name, "--no-dashboard"],
                         log, command=EARLIER_VERSION)

    study = Study(str(storage), name)

    def one_finished():
        assert run.poll() is None, log.read_text()[-3000:]
        # Trials start after the searcher has created optuna.db: opening it earlier races the driver's
        # creation of its tables.
        if not any(study_dir.glob("trial_*")):
            return False
        counts = optuna_store.state_counts(study, study.load_spec())
        return any(counts.get(state) for state in FINISHED)

    wait_for(one_finished, 240, interval=0.2, what="a finished trial")
    run.send_signal(signal.SIGTERM)  # as Ctrl-C: Ray saves its state, the driver exits 130
    assert run.wait(timeout=120) == 130, log.read_text()[-3000:]
    assert "Ray dashboard:" not in log.read_text()
    as_written_before_journal_storage(study_dir / "study.json")
    interrupted = {t.user_attrs["ray_trial_id"]: t.state.name for t in optuna_trials(study_dir, name)}
    assert "RUNNING" in interrupted.values() or len(interrupted) < trials

    # status reads the old study's SQLite file
    assert main(["status", "--name", name, "--storage", str(storage), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["optuna"] == {state: list(interrupted.values()).count(state) for state in set(interrupted.values())}

    resume_log = tmp_path / "resume.log"
    resume = tune_cli.start(["resume", "--name", name, "--storage", str(storage), "--no-dashboard"], resume_log,
                            command=CURRENT_VERSION)
    assert resume.wait(timeout=400) == 0, resume_log.read_text()[-3000:]
    assert f"optuna-dashboard sqlite:///{study_dir / 'optuna.db'}" in resume_log.read_text()

    # the study went on in optuna.db: every trial finished, those finished before the stop unchanged
    resumed = {t.user_attrs["ray_trial_id"]: t.state.name for t in optuna_trials(study_dir, name)}
    assert len(resumed) == trials and set(resumed.values()) <= set(FINISHED)
    assert all(resumed[trial] == state for trial, state in interrupted.items() if state in FINISHED)
    assert not (study_dir / "optuna.journal").exists()
    assert "optuna_backend" not in json.loads((study_dir / "study.json").read_text())
    # on JAX without TensorFlow too, the export and the table are whole
    assert (study_dir / "export" / "embeddings.npy").is_file()
    assert len((study_dir / "export" / "trials.csv").read_text().splitlines()) == 1 + trials
