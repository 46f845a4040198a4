"""The Python API (tune/api.py) calls what the command line calls, with the same settings and errors.

The API's real study runs in tests/test_readme.py (the README's example, as written).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from track2vec.errors import ConfigError
from tune import Study, StudyFailed
from tune import run as commands
from tune.cli import main
from tune.spec import NEW_STUDY_OPTUNA_BACKEND, StudySpec


@pytest.fixture
def started(monkeypatch) -> list[tuple]:
    """``tune.run.start`` recording its arguments instead of running a study."""
    calls = []

    def start(study, spec, config, cluster, resume_existing=False):
        calls.append((study, spec, config, cluster, resume_existing))
        return 0

    monkeypatch.setattr(commands, "start", start)
    return calls


def test_run_builds_the_settings_the_command_line_builds(started, tmp_path):
    Study.run(data="builtin:tiny", trials=3, storage=tmp_path, name="s", max_epochs=4, seed=7, repeats=2, top=1,
              log_to="mlflow", config=tmp_path / "space.toml", dashboard=False, dashboard_port=9999, gensim=True)
    assert main(["run", "--data", "builtin:tiny", "--trials", "3", "--storage", str(tmp_path), "--name", "s",
                 "--max-epochs", "4", "--seed", "7", "--repeats", "2", "--top", "1", "--log-to", "mlflow",
                 "--config", str(tmp_path / "space.toml"), "--no-dashboard", "--dashboard-port", "9999",
                 "--gensim"]) == 0
    (api_study, api_spec, *api_rest), (cli_study, cli_spec, *cli_rest) = started
    assert api_study == cli_study and api_rest == cli_rest
    assert replace(api_spec, created="", command=()) == replace(cli_spec, created="", command=())
    assert api_spec.repeat_top == 1 and api_spec.log_to == ("mlflow",) and api_spec.trials == 3 and api_spec.gensim


def test_a_path_is_made_absolute_and_the_defaults_are_the_specs(started, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = Study.run(data="sessions.txt", storage="studies", name="s")
    (_, spec, *_), = started
    assert spec.data == str(tmp_path / "sessions.txt") and study.path == str(tmp_path / "studies" / "s")
    assert replace(spec, data="x", created="", command=()) == StudySpec(
        name="s", storage=str(tmp_path / "studies"), data="x", optuna_backend=NEW_STUDY_OPTUNA_BACKEND)


@pytest.mark.parametrize("options, message", [
    ({"epochs": 3}, "Study.run: unknown option 'epochs' (known: "),
    ({"trials": 0}, "--trials must be >= 1"),
    ({"log_to": "neptune"}, "--log-to: expected some of mlflow, wandb"),
    ({"top": 0}, "--top must be >= 1"),
])
def test_bad_options_are_config_errors_before_anything_is_written(options, message, tmp_path):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Study.run(data="builtin:tiny", storage=tmp_path, name="s", **options)
    assert list(tmp_path.iterdir()) == []


def test_exit_statuses_become_exceptions(monkeypatch, tmp_path):
    monkeypatch.setattr(commands, "start", lambda *args, **kwargs: commands.INTERRUPTED)
    with pytest.raises(KeyboardInterrupt, match=r"Study.resume\(name='s'"):
        Study.run(data="builtin:tiny", storage=tmp_path, name="s")
    monkeypatch.setattr(commands, "start", lambda *args, **kwargs: 1)
    with pytest.raises(StudyFailed, match="no trial finished an epoch"):
        Study.run(data="builtin:tiny", storage=tmp_path, name="s")


def test_an_unknown_or_unexported_study(tmp_path):
    with pytest.raises(ConfigError, match="no study named 'ghost'"):
        Study.open("ghost", tmp_path)
    with pytest.raises(ConfigError, match="--name '../x'"):
        Study.open("../x", tmp_path)
    location = Study("fresh", tmp_path)._location
    location.create()
    location.save_spec(StudySpec(name="fresh", trials=2))
    study = Study.open("fresh", tmp_path)
    with pytest.raises(ConfigError, match="no export yet"):
        study.winner
    assert len(study.table()) == 0  # no trial has run
    assert study.status()["not_started"] == 2 and study.spec.trials == 2
