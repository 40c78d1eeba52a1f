"""The two kinds of user mistake, and the closest-name hint every error message uses.

`ParamError` is raised where a parameter is checked (a target family, a method's hyperparameters,
the suite settings) and carries the key it is about; `ConfigError` is what the command line
prints: one line `<file>: <key>: <message>`, exit status 2.

Example:
    >>> err = ParamError("seed", "must be an integer, got 'abc'").within("targets[0]")
    >>> err.key, str(ConfigError("suite.toml", err.key, err.message))
    ('targets[0].seed', "suite.toml: targets[0].seed: must be an integer, got 'abc'")
    >>> closest("flowmc", ["flowmc_ebm", "ula_ebm"])
    " (did you mean 'flowmc_ebm'?)"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["ConfigError", "ParamError", "closest"]


class ParamError(ValueError):
    """A bad parameter: `key` (dotted, "" for the object itself) and what is wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key, self.message = key, message

    def within(self, prefix: str) -> ParamError:
        """The same error with its key under `prefix` (e.g. "methods.ula_ebm")."""
        return ParamError(f"{prefix}.{self.key}" if self.key else prefix, self.message)


class ConfigError(ValueError):
    """A user mistake in a config, a directory or on the command line: `file: key: message`."""

    def __init__(self, file: str | Path, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")
        self.file, self.key, self.message = str(file), key, message


def closest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, or ''."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
