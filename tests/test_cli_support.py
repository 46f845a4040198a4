"""The pieces both command-line tools share: one-line errors, exit statuses, ``--version``, SIGTERM as Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
from importlib import metadata

import pytest

import track2vec.cli
import tune.cli
import tune.spec
from track2vec.cli_support import INTERRUPTED, OneLineParser, run_main, stop_on_sigterm
from track2vec.errors import DataError, StorageError


@pytest.mark.parametrize("main, program", [(track2vec.cli.main, "track2vec"), (tune.cli.main, "track2vec-tune")])
def test_version_comes_from_the_package_metadata(main, program, capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"{program} {metadata.version('track2vec-tune')}"


COMMANDS = [(track2vec.cli.main, "track2vec", command) for command in ("train", "baselines", "recommend")] + [
    (tune.cli.main, "track2vec-tune", command) for command in ("run", "resume", "repeat", "export", "report", "status")]


@pytest.mark.parametrize("main, program, command", COMMANDS)
def test_help_shows_a_default_only_where_it_says_something(main, program, command, capsys):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for meaningless in ("(default: None)", "(default: True)", "(default: False)", "(default: ())"):
        assert meaningless not in text, f"{program} {command} --help prints {meaningless}"
    if command == "run":  # a value's default is still shown, once
        assert f"number of trials (default: {tune.spec.DEFAULT_TRIALS})" in text
        assert "started) (default:" not in text and "starts) (default:" not in text


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


@pytest.fixture
def sigterm_handler_restored():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_after_stop_on_sigterm_is_an_interruption(sigterm_handler_restored, capsys):
    def command(args):
        stop_on_sigterm()
        os.kill(os.getpid(), signal.SIGTERM)
        return 0

    assert run_main("tool", parser(), ["go"], command) == INTERRUPTED
    assert capsys.readouterr().err.splitlines() == ["tool: interrupted"]


def test_a_sigterm_whose_interruption_was_swallowed_still_ends_the_command_as_interrupted(
        sigterm_handler_restored, capsys):
    # As when the signal lands in a weakref callback or a finaliser, where Python prints and drops exceptions.
    def command(args):
        stop_on_sigterm()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except KeyboardInterrupt:
            pass
        return 0

    assert run_main("tool", parser(), ["go"], command) == INTERRUPTED
    assert capsys.readouterr().err.splitlines() == ["tool: interrupted"]
    assert run_main("tool", parser(), ["go"], lambda args: 0) == 0  # the next command starts afresh


def test_the_driver_keeps_sigterm_an_interruption_after_ray_starts(sigterm_handler_restored, no_ray_left):
    # ray.init installs a SIGTERM handler that calls sys.exit(15): no line, and swallowed inside a callback.
    from tune import driver
    from tune.testing import free_port

    driver.connect(None, "127.0.0.1", free_port(), dashboard=False)
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        driver.shutdown()
