"""Errors a user can act on.

Anything raised as a `WebtuneError` is an *expected* failure (bad input, missing file,
unknown model): the CLI prints its message in one line and exits non-zero, with no
traceback unless `--debug` is given. Everything else is a bug and shows a traceback.
"""

from __future__ import annotations


class WebtuneError(Exception):
    """An expected, user-facing error. The message must say what and where (file, line, key)."""

    exit_code = 1


class ConfigError(WebtuneError):
    """The pipeline file or a command-line option is invalid."""

    exit_code = 2


class InputError(WebtuneError):
    """An input file or store cannot be read or is not what its name says."""


class StageError(WebtuneError):
    """A stage could not finish; its partial output was discarded."""
