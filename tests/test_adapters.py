"""The private Ray and Optuna attributes tune/ relies on, probed on the installed versions (no Ray cluster).

When a Ray or Optuna upgrade moves one of them, this fails naming it, and the adapter in
tune/adapters/ that reads it is the one place to change.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tune.adapters import optuna_search, probe, ray_asha, ray_auth, ray_controller, ray_loggers, ray_trial_threads

ADAPTERS = {"ray_asha": ray_asha, "ray_controller": ray_controller, "ray_auth": ray_auth, "ray_loggers": ray_loggers,
            "ray_trial_threads": ray_trial_threads, "optuna_search": optuna_search}


@pytest.mark.parametrize("name", ADAPTERS)
def test_the_private_attributes_are_where_the_adapters_read_them(name):
    missing = ADAPTERS[name].missing()
    assert not missing, (f"tune/adapters/{name}.py reads attributes this Ray/Optuna no longer has as expected: "
                         f"{', '.join(missing)}")


def test_a_moved_attribute_is_named():
    gone = SimpleNamespace(_rungs=[(3, {})])
    assert probe("Bracket", {"_rungs": lambda: isinstance(gone._rungs, list), "rf": lambda: gone.rf == 3,
                             "cutoff": lambda: gone.cutoff({}) is None}) == ["Bracket.rf", "Bracket.cutoff"]


def test_no_module_of_tune_reaches_into_them_but_the_adapters():
    from pathlib import Path

    private = ("._brackets", "._rungs", "._num_stopped", "._metric_op", "._ot_study", "._ot_trials",
               "._completed_trials", "._storage", "._trial_id", "._mark_trial_to_checkpoint", "._trial_files",
               "._actor_force_cleanup_timeout", "ray._private")
    root = Path(__file__).resolve().parents[1] / "tune"
    for path in root.rglob("*.py"):
        if path.parent.name == "adapters":
            continue
        text = path.read_text()
        assert not [name for name in private if re.search(re.escape(name) + r"\b", text)], path


def test_an_ending_study_has_tune_kill_the_workers_still_training_once_its_own_wait_is_over():
    # Through the wrapper Tune hands schedulers: the epoch in progress is lost either way, so Tune's extra
    # grace for a worker that cannot stop mid-epoch (ten seconds) is none.
    from ray.tune.execution.tune_controller import TrialRunnerWrapper

    controller = SimpleNamespace(_actor_force_cleanup_timeout=10)
    ray_controller.end_without_waiting_for_epochs(TrialRunnerWrapper(controller, None))
    assert controller._actor_force_cleanup_timeout == ray_controller.FORCED_STOP_GRACE_SECONDS == 0


def test_the_asha_probe_names_an_attribute_that_moved(monkeypatch):
    from ray.tune.schedulers import async_hyperband

    init = async_hyperband._Bracket.__init__

    def without_rf(self, *args, **kwargs):
        init(self, *args, **kwargs)
        del self.rf  # as if Ray renamed the bracket's reduction factor

    monkeypatch.setattr(async_hyperband._Bracket, "__init__", without_rf)
    assert "ASHAScheduler._brackets[0].rf" in ray_asha.missing()


class _Trial:
    """What Ray's JSON logger reads of a trial: its config, staging and storage directories, a checkpoint."""

    def __init__(self, root) -> None:
        import pyarrow.fs

        self.config, self.checkpoint = {"dim": 8}, object()  # a checkpoint: a start restores from storage
        self.local_path = str(root / "staging")
        self.storage = SimpleNamespace(trial_fs_path=str(root / "storage"),
                                       storage_filesystem=pyarrow.fs.LocalFileSystem())
        self.init_local_path()  # Ray creates it with the trial

    def init_local_path(self) -> None:
        import os

        os.makedirs(self.local_path, exist_ok=True)


def _epochs_logged_around_a_restart(logger, root) -> list[int]:
    """Epochs 1-2 logged, storage synced after epoch 1 only, the trial started again, epoch 3 logged."""
    import json
    from pathlib import Path

    trial = _Trial(root)
    Path(trial.storage.trial_fs_path).mkdir(parents=True)
    for epoch in (1, 2):
        logger.log_trial_result(epoch, trial, {"epoch": epoch})
        if epoch == 1:
            staged = Path(trial.local_path, "result.json")
            Path(trial.storage.trial_fs_path, "result.json").write_text(staged.read_text())
    logger.log_trial_start(trial)  # a paused trial starts again in a reused worker, before the next sync
    logger.log_trial_result(3, trial, {"epoch": 3})
    return [json.loads(line)["epoch"] for line in Path(trial.local_path, "result.json").read_text().splitlines()]


def test_a_trial_started_again_by_the_same_driver_keeps_every_line_of_its_result_json(tmp_path):
    from ray.tune.logger import JsonLoggerCallback

    assert _epochs_logged_around_a_restart(ray_loggers.AppendingJsonLogger(), tmp_path / "ours") == [1, 2, 3]
    # Why the adapter exists: Ray's own logger restores the older storage copy over the newer lines.
    assert _epochs_logged_around_a_restart(JsonLoggerCallback(), tmp_path / "ray's") == [1, 3], (
        "Ray's JsonLoggerCallback no longer drops the lines written since the last sync: "
        "tune/adapters/ray_loggers.py can go")


def test_a_new_driver_still_restores_result_json_from_storage(tmp_path):
    """A resumed study: the driver's staging directory is empty, the storage holds the epochs so far."""
    import json
    from pathlib import Path

    trial = _Trial(tmp_path)
    Path(trial.storage.trial_fs_path).mkdir(parents=True)
    Path(trial.storage.trial_fs_path, "result.json").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    logger = ray_loggers.AppendingJsonLogger()
    logger.log_trial_start(trial)
    logger.log_trial_result(3, trial, {"epoch": 3})
    lines = Path(trial.local_path, "result.json").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


@pytest.mark.slow
def test_a_reused_worker_waits_for_the_finished_trial_instead_of_failing_the_next(tmp_path, no_ray_left):
    import ray
    from ray import tune

    def trial_slow_to_end(config):  # defined here so that Ray ships it by value to its workers
        """Reports once; when Ray ends it (SystemExit in report), unwinds as slowly as a Keras fit can on busy cores."""
        import time

        from ray import tune

        from tune.adapters.ray_trial_threads import wait_for_finished_trials

        if config["wait"]:
            wait_for_finished_trials()
        try:
            tune.report({"score": 1.0})
        except BaseException:
            time.sleep(4)
            raise

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)

    def errors(wait: bool) -> list:
        tuner = tune.Tuner(
            trial_slow_to_end,
            param_space={"wait": wait, "trial": tune.grid_search([0, 1])},
            tune_config=tune.TuneConfig(reuse_actors=True),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name=f"wait-{wait}", verbose=0,
                                      stop={"training_iteration": 1}),
        )
        return [result.error for result in tuner.fit() if result.error is not None]

    # Ray's own wait is too short for this trial: the worker's next trial errors, though nothing is wrong with it.
    assert len(errors(wait=False)) == 1
    assert errors(wait=True) == []
