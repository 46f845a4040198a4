"""The README stays true: CI runs its test command exactly as written after the first command's install,
and its Python API example runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    """The command lines (comments left out) of the README's "Set-up: the two commands" block."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Set-up: the two commands\s+```bash\n(.*?)```", text, re.S)
    assert block, "the README has no set-up block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_test_command_after_the_first_commands_install():
    first, second = setup_commands()
    install = first.split(" && ")[:2]
    assert install == ["python3 -m venv .venv", ".venv/bin/pip install -e ."]
    assert "pip install" in second and "[test]" in second and second.endswith("bash scripts/test.sh")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert second in ci
    assert "python3 -m venv .venv" in ci and ci.index("python3 -m venv .venv") < ci.index(second)


def python_api_example() -> str:
    """The Python block of the README's "In a notebook: the Python API" section."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"### In a notebook: the Python API\n.*?```python\n(.*?)```", text, re.S)
    assert block, "the README has no Python API example"
    return block.group(1)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, no_ray_left):
    """The example, executed as a notebook would (in a fresh directory), on builtin:tiny with its small options."""
    code = python_api_example()
    assert 'data="builtin:tiny"' in code and "from tune import Study" in code
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAY_ADDRESS", "")
    namespace: dict = {}
    exec(compile(code, "README.md (Python API example)", "exec"), namespace)

    study, again, table = namespace["study"], namespace["again"], namespace["table"]
    assert study.path == str(tmp_path / "studies" / "notebook") and again.path == study.path
    winner = study.winner
    model = json.loads((tmp_path / "studies" / "notebook" / "export" / "model.json").read_text())
    # run --repeats 2 --top 1 through the API: the export holds the repeated configuration's best seed
    assert winner.trial_id == model["trial_id"] and winner.seed == model["vectors"]["seed"] in (1, 2)
    assert winner.vectors_trial == model["vectors"]["trial_id"] and model["vectors"]["from"] == "repeats"
    assert winner.hyperparameters == model["hyperparameters"] and winner.scoring.as_dict() == model["scoring"]
    assert winner.test.ndcg == model["metrics"]["winner_test_ndcg_at_10"]
    assert winner.intervals.as_dict() == model["intervals"]
    # the table: every trial, the winner's test score and its configuration's mean over the seeds
    records = table.to_dict("records") if hasattr(table, "to_dict") else table
    assert len(records) == 2 and records[0]["trial_id"] == winner.trial_id
    assert records[0]["test_ndcg_at_10"] == winner.test.ndcg and records[0]["repeats_seeds"] == 2
    assert again.status()["repeats"]["configurations"][0]["trial_id"] == winner.trial_id
