"""What every command-line tool of the project shares: one-line usage errors, ``--version``,
and the wrapper that turns a user error into one line and its exit status.

A user error (``Track2VecError``) is printed as ``<program>: error: <message>`` and exits with
the error's status (2 for bad input); Ctrl-C is ``<program>: interrupted`` and 130, and so is
SIGTERM once a command has called ``stop_on_sigterm``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from importlib import metadata
from typing import Callable, NoReturn

from track2vec.errors import Track2VecError

DISTRIBUTION = "track2vec-tune"  # the package that installs both tools
INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2, like every other user error.

    The line starts with ``program`` (the tool's name, also for its subcommands), or with the
    first word of ``prog``.
    """

    program: str | None = None

    def error(self, message: str) -> NoReturn:
        print(f"{self.program or self.prog.split()[0]}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's ``(default: X)`` after an option's help, only where it tells the reader something.

    Left out where the help already says its default, where there is none (``None``, an empty list),
    and for on/off flags, whose default is that the flag is not given: argparse would print
    ``(default: True)`` after ``--no-dashboard``, which reads as the opposite of what it does.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "default" in help_text or action.default in (None, (), [], argparse.SUPPRESS):
            return help_text
        if action.nargs == 0 and isinstance(action.default, bool):  # a flag: it takes no value
            return help_text
        return super()._get_help_string(action)


def version() -> str:
    """The installed package's version, from its metadata."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")


class _Termination:
    received = False  # a SIGTERM arrived while a command ran (its KeyboardInterrupt may have been swallowed)


def stop_on_sigterm() -> None:
    """From now on SIGTERM stops the running command as Ctrl-C does: ``run_main`` prints
    ``<program>: interrupted`` and returns 130.

    Call it again after anything that installs a handler of its own: ``ray.init`` installs one that
    calls ``sys.exit(15)``, which skips that line and which a callback running at that moment (a
    weakref's, a finaliser) swallows, so that the command went on and exited 0. The signal is also
    remembered, for the same reason. Python handles signals in the main thread only.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame) -> NoReturn:
    _Termination.received = True
    raise KeyboardInterrupt


def run_main(program: str, parser: argparse.ArgumentParser, argv: list[str] | None,
             command: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run ``command``; returns the exit status (never a traceback for a user error)."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version, or a usage error already printed as one line
        return int(exit.code or 0)
    _Termination.received = False
    try:
        code = command(args)
    except Track2VecError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        return INTERRUPTED
    if _Termination.received:  # its KeyboardInterrupt was swallowed on the way
        print(f"{program}: interrupted", file=sys.stderr)
        return INTERRUPTED
    return code
