"""The README's two set-up commands: CI runs the second exactly as written, after the first's install."""

from __future__ import annotations

import re
from pathlib import Path

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
