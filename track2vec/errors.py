"""Errors a user can cause: reported as one line and exit code 2, never as a traceback."""


class Track2VecError(Exception):
    """Base class for problems with the user's input (data, options, files).

    The command-line tools print ``error: <message>`` and exit with status 2.
    """

    exit_code = 2


class DataError(Track2VecError):
    """The input data cannot be read or holds nothing usable."""


class ConfigError(Track2VecError):
    """An option or configuration value is invalid."""


class ExportExistsError(Track2VecError):
    """An export would overwrite existing files without ``force``."""


class StorageError(Track2VecError):
    """Storage failed during a run (disk full, read-only): not the user's input, exit status 1."""

    exit_code = 1
