"""The pieces both command-line tools share: one-line errors, exit statuses, ``--version``."""

from __future__ import annotations

import argparse
from importlib import metadata

import pytest

import track2vec.cli
import tune.cli
from track2vec.cli_support import OneLineParser, run_main
from track2vec.errors import DataError, StorageError


@pytest.mark.parametrize("main, program", [(track2vec.cli.main, "track2vec"), (tune.cli.main, "track2vec-tune")])
def test_version_comes_from_the_package_metadata(main, program, capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"{program} {metadata.version('track2vec-tune')}"


def parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tool")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    commands.add_parser("go").add_argument("--n", type=int)
    return parser


def test_a_subcommand_usage_error_is_one_line_named_after_the_tool(capsys):
    assert run_main("tool", parser(), ["go", "--n", "x"], lambda args: 0) == 2
    assert capsys.readouterr().err.splitlines() == ["tool: error: argument --n: invalid int value: 'x'"]


@pytest.mark.parametrize("raised, status, line", [
    (DataError("empty"), 2, "tool: error: empty"),
    (StorageError("disk full"), 1, "tool: error: disk full"),
    (KeyboardInterrupt(), 130, "tool: interrupted"),
])
def test_errors_become_one_line_and_their_exit_status(raised, status, line, capsys):
    def command(args):
        raise raised

    assert run_main("tool", parser(), ["go"], command) == status
    assert capsys.readouterr().err.splitlines() == [line]


def test_an_unexpected_exception_is_not_hidden():
    def command(args):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_main("tool", parser(), ["go"], command)
