"""The README stays true: CI runs its test command exactly as written after the first command's install,
and its Python API example runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import readme_python_example

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


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(readme_example):
    """The example (conftest's ``readme_example`` runs it as written, in a fresh directory) on builtin:tiny
    with small options, repeats included; what it shows is the study's export."""
    code = readme_python_example()
    assert 'data="builtin:tiny"' in code and "from tune import Study" in code and "repeats=" in code
    directory, namespace = readme_example.directory, readme_example.namespace
    study, again, table = namespace["study"], namespace["again"], namespace["table"]
    assert study.path == str(directory / "studies" / "notebook") and again.path == study.path
    winner = study.winner
    model = json.loads((directory / "studies" / "notebook" / "export" / "model.json").read_text())
    # run with repeats through the API: the export holds the repeated configuration's best seed
    assert winner.trial_id == model["trial_id"] and winner.seed == model["vectors"]["seed"] in (1, 2)
    assert winner.vectors_trial == model["vectors"]["trial_id"] and model["vectors"]["from"] == "repeats"
    assert winner.hyperparameters == model["hyperparameters"] and winner.scoring.as_dict() == model["scoring"]
    assert winner.test.ndcg == model["metrics"]["winner_test_ndcg_at_10"]
    assert winner.intervals.as_dict() == model["intervals"]
    # the other seed joins the best one as an ensemble member where validation chooses so
    assert winner.ensemble in ([], [winner.vectors_trial, *winner.ensemble[1:]]) and len(winner.ensemble) in (0, 2)
    # the table: every trial, its configuration's test score (the best seed alone's where the winner is an
    # ensemble) and its mean over the seeds
    records = table.to_dict("records") if hasattr(table, "to_dict") else table
    assert len(records) == 2 and records[0]["trial_id"] == winner.trial_id
    alone = model["metrics"]["best_trial_test_ndcg_at_10"] if winner.ensemble else winner.test.ndcg
    assert records[0]["test_ndcg_at_10"] == alone and records[0]["repeats_seeds"] == 2
    assert again.status()["repeats"]["configurations"][0]["trial_id"] == winner.trial_id
