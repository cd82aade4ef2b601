"""What is wrong with the settings: one problem per setting with its fix, all in one error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from credly_connector.errors import ConfigurationError


@dataclass(frozen=True)
class SettingProblem:
    """One thing wrong with one setting, and how to fix it."""

    setting: str
    message: str
    fix: str

    def __str__(self) -> str:
        """The problem on one line: `SETTING: message. Fix: fix`."""
        return f"{self.setting}: {self.message}. Fix: {self.fix}"


class SettingsError(ConfigurationError):
    """The settings cannot be used; `problems` lists every problem found, not just the first.

    Attributes:
        problems: Each problem with the setting it concerns and its fix.
    """

    def __init__(self, problems: Sequence[SettingProblem]) -> None:
        """Build the error; its text is a header line, then one line per problem."""
        self.problems = list(problems)
        count = len(self.problems)
        header = f"The connector's settings have {count} problem{'' if count == 1 else 's'}:"
        super().__init__("\n".join([header, *map(str, self.problems)]))
