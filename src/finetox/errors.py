"""The errors a user can act on. Only the standard library here: the Snakefile imports the config
package, and through it these, while it parses (an environment with only snakemake must plan)."""

from __future__ import annotations

from collections.abc import Iterable


class UserError(ValueError):
    """A problem the user can act on; the CLI prints its message without a traceback."""


class InputError(UserError):
    """Bad user input: the message names the file and the problem."""


class ConfigError(UserError):
    """All problems of a config, one line each."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(f"config error: {p}" for p in self.problems))
