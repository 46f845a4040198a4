"""StudySpec: one typed home for a study's settings, read from and written to study.json."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from track2vec.errors import ConfigError
from tune.cli import build_parser, main
from tune.spec import FORMAT_VERSION, StudySpec, option
from tune.study import Study

# A study.json as track2vec-tune wrote it before StudySpec (format version 1): it must still load.
VERSION_1 = {
    "format_version": 1, "name": "demo", "storage": "/srv/studies", "created": "2025-01-02T03:04:05+0000",
    "data": "builtin", "data_fingerprint": "builtin:small:seed=0:abc",
    "corpus_stats": {"playlists": 3000, "vocabulary_size": 1234, "validation_pairs": 1378, "test_pairs": 1378},
    "config_file": "/srv/space.toml", "config_text": "dim = { min = 8, max = 32 }\n",
    "overrides": {"dim": {"min": 8, "max": 32}}, "trials": 12, "max_epochs": 9, "grace_period": 1,
    "reduction_factor": 3.0, "cpus_per_trial": 1.0, "gpus_per_trial": 0.0, "max_failures": 2, "seed": 0,
    "min_count": 2, "validation_pairs": 10000, "test_pairs": 10000, "optuna_storage": None,
    "metric": "val_ndcg_at_10 (validation NDCG@10)",
    "command": ["track2vec-tune", "run", "--name", "demo"],
}


def test_a_version_1_study_json_loads_with_its_values():
    spec = StudySpec.from_json(json.dumps(VERSION_1), default_name="other")
    for name, value in VERSION_1.items():
        if name != "format_version":
            assert getattr(spec, name) == (tuple(value) if name == "command" else value), name
    assert spec.space().distributions["dim"].low == 8


def test_study_json_round_trip_keeps_every_field(tmp_path):
    spec = StudySpec.from_json(json.dumps(VERSION_1), default_name="demo")
    study = Study(str(tmp_path), "demo")
    study.create()
    study.save_spec(spec)
    assert study.load_spec() == spec
    # rewritten as the current version, with the Optuna file a version 1 study has (SQLite) and the
    # settings added since version 1 at their defaults, which keep the old behaviour
    added = {"repeats": 0, "repeat_top": 3, "log_to": [], "sample": 1.0, "warm_start_from": None,
             "warm_start_top": 3, "warm_start_points": [], "max_epoch_seconds": None, "max_trial_memory": None,
             "validation_sample": 0, "gensim": False}
    assert json.loads((tmp_path / "demo" / "study.json").read_text()) == {
        **VERSION_1, **added, "format_version": FORMAT_VERSION, "optuna_backend": "sqlite"}
    assert spec.optuna_backend == "sqlite"  # a version 1 study's Optuna file is optuna.db


def test_a_newer_format_version_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "future").mkdir()
    (tmp_path / "future" / "study.json").write_text(json.dumps({**VERSION_1, "format_version": FORMAT_VERSION + 1}))
    assert main(["status", "--name", "future", "--storage", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"track2vec-tune: error: {tmp_path}/future/study.json: format version {FORMAT_VERSION + 1}")
    assert "upgrade track2vec-tune" in line


@pytest.mark.parametrize("changes, message", [
    ({"format_version": None}, "unknown format version None"),
    ({"trials": 0}, "--trials must be >= 1, got 0"),
    ({"trials": "many"}, "--trials: expected a whole number"),
    ({"grace_period": 10}, "--grace-period (10) must not exceed --max-epochs (9)"),
    ({"reduction_factor": 1}, "--reduction-factor must be > 1"),
    ({"cpus_per_trial": 0.0}, "--cpus-per-trial must be > 0"),
    ({"gpus_per_trial": 1.5}, "--gpus-per-trial above 1 must be a whole number"),
    ({"optuna_backend": "csv"}, "optuna_backend: expected one of journal, sqlite, got 'csv'"),
    ({"seed": -1}, "--seed must be >= 0, got -1"),
    ({"repeats": -1}, "--repeats must be >= 0, got -1"),
    ({"repeat_top": 0}, "--top must be >= 1, got 0"),
    ({"log_to": ["neptune"]}, "--log-to: expected some of mlflow, wandb"),
    ({"sample": 0}, "--sample must be in (0, 1]"),
    ({"sample": 1.5}, "--sample must be in (0, 1]"),
    ({"sample": "half"}, "--sample: expected a finite number"),
    ({"max_epoch_seconds": 0}, "--max-epoch-seconds must be > 0, got 0"),
    ({"max_trial_memory": -5}, "--max-trial-memory must be > 0, got -5"),
    ({"warm_start_top": 0}, "--warm-start-top must be >= 1, got 0"),
    ({"gensim": "yes"}, "gensim: expected true or false, got 'yes'"),
    ({"warm_start_points": "dim=8"}, "warm_start_points: expected a list of configurations"),
    ({"validation_sample": -1, "format_version": 3}, "--validation-sample must be >= 0, got -1"),
    ({"validation_sample": "all", "format_version": 4}, "--validation-sample: expected a whole number, got 'all'"),
])
def test_bad_settings_in_study_json_are_one_line_errors(changes, message):
    with pytest.raises(ConfigError) as error:
        StudySpec.from_json(json.dumps({**VERSION_1, **changes}), default_name="demo")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_run_options_default_to_the_spec_defaults():
    """One home for every default: the command line's are StudySpec's."""
    args = vars(build_parser().parse_args(["run"]))
    defaults = StudySpec(name="defaults")
    for spec_field in fields(StudySpec):
        if spec_field.name in args and spec_field.name not in ("name", "storage", "command"):  # not options
            assert args[spec_field.name] == getattr(defaults, spec_field.name), option(spec_field.name)
    assert {"trials", "max_epochs", "min_count", "validation_pairs", "max_failures", "seed", "data"} <= set(args)


def test_differences_name_the_settings_a_resumed_study_must_share():
    spec = StudySpec(name="s")
    assert spec.differences(StudySpec(name="s", cpus_per_trial=2.0)) == []
    assert spec.differences(StudySpec(name="s", trials=5, seed=3)) == ["trials", "seed"]


def test_a_study_json_before_the_validation_sample_scored_every_pair_and_a_new_one_samples():
    from tune.spec import DEFAULT_VALIDATION_SAMPLE

    for version in (1, 2):
        assert StudySpec.from_json(json.dumps({**VERSION_1, "format_version": version}), "d").validation_sample == 0
    given = StudySpec.from_json(json.dumps({**VERSION_1, "format_version": 3, "validation_sample": 500}), "d")
    assert given.validation_sample == 500
    assert given.trial_validation_sample(2_262_292) == 500  # a given size holds at any vocabulary
    assert StudySpec(name="new").validation_sample == DEFAULT_VALIDATION_SAMPLE
    assert StudySpec.from_json(StudySpec(name="new").to_json(), "d").validation_sample == DEFAULT_VALIDATION_SAMPLE
    assert vars(build_parser().parse_args(["run", "--validation-sample", "0"]))["validation_sample"] == 0
    # trials of one study must be scored alike: resuming with another sample is refused
    assert StudySpec(name="s").differences(StudySpec(name="s", validation_sample=0)) == ["validation_sample"]


def test_by_default_trials_score_every_validation_pair_unless_the_vocabulary_makes_it_costly():
    """All of a default split's pairs at mid-sized vocabularies (a sample only adds noise to the winner's
    choice there); fewer at 185k items; the floor at the Million Playlist size."""
    from tune.spec import DEFAULT_VALIDATION_PAIRS, VALIDATION_SAMPLE_FLOOR

    spec = StudySpec(name="auto")
    assert spec.validation_sample is None
    for items in (3_500, 9_000, 44_000):
        assert spec.trial_validation_sample(items) >= DEFAULT_VALIDATION_PAIRS * 0.9, items
    assert spec.trial_validation_sample(9_000) >= DEFAULT_VALIDATION_PAIRS
    assert VALIDATION_SAMPLE_FLOOR < spec.trial_validation_sample(185_000) < DEFAULT_VALIDATION_PAIRS / 2
    assert spec.trial_validation_sample(2_262_292) == VALIDATION_SAMPLE_FLOOR


def test_run_resume_with_another_validation_sample_is_refused_naming_both_values(tmp_path):
    """A study started before the vocabulary-sized default kept its 2,000; `run --resume` with the new
    default is refused in one line that says both and points to `resume`, before anything starts."""
    from tune.run import resume
    from tune.study import Study

    study = Study(str(tmp_path), "old")
    study.create()
    study.save_spec(StudySpec(name="old", validation_sample=2_000))
    with pytest.raises(ConfigError) as error:
        resume(study, None, given=StudySpec(name="old"))
    assert str(error.value) == ("study 'old' was started with --validation-sample 2000, not (default); "
                                "use `track2vec-tune resume --name old`")
