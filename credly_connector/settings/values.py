"""Reading one typed value from the app settings, collecting each problem instead of raising."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from credly_connector.settings.model import LOOPBACK_HOSTS
from credly_connector.settings.ncrontab import schedule_problem
from credly_connector.settings.problems import SettingProblem

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class ValueReader:
    """Typed values from the app settings; a wrong value is noted in `problems`, not raised.

    Each method returns the value, or its default (None where there is none) when the setting
    is unset or wrong, so one pass over every setting finds every problem.

    Attributes:
        env: The app settings (e.g. `os.environ`).
        problems: What is wrong so far, in the order found.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        """Start reading `env` with no problems found."""
        self.env = env
        self.problems: list[SettingProblem] = []

    def problem(self, setting: str, message: str, fix: str) -> None:
        """Note a problem with `setting`."""
        self.problems.append(SettingProblem(setting, message, fix))

    def text(self, name: str) -> str | None:
        """The setting trimmed, or None when unset or blank."""
        # The Functions host and local.settings.json keep unset values as empty strings.
        return self.env.get(name, "").strip() or None

    def guid(self, name: str, fix: str) -> str | None:
        """The GUID in `name` in its canonical lower-case form, or None."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self.problem(name, f"{value!r} is not a GUID", fix)
            return None

    def url(self, name: str, default: str | None) -> str | None:
        """An absolute https URL (http on loopback) without a trailing slash, or None."""
        value = self.text(name) or default
        if value is None:
            return None
        fix = f"set an absolute https URL such as {default or 'https://...'}"
        try:
            parts = urlsplit(value)
            scheme, host = parts.scheme, parts.hostname
        except ValueError:  # e.g. an unbalanced "[" in the host
            scheme, host = "", None
        if scheme not in ("http", "https") or not host:
            self.problem(name, f"{value!r} is not an absolute http(s) URL", fix)
            return None
        if scheme == "http" and host not in LOOPBACK_HOSTS:
            self.problem(
                name, f"{value!r} uses http, allowed only for 127.0.0.1/localhost stand-ins", fix
            )
            return None
        return value.rstrip("/")

    def boolean(self, name: str, default: bool) -> bool:
        """true/false, yes/no or 1/0 in any case."""
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in _BOOLEANS:
            self.problem(name, f"{value!r} is not a boolean", "set true or false (or yes/no, 1/0)")
            return default
        return _BOOLEANS[value.lower()]

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """A whole number from `low` to `high`."""
        value = self.text(name)
        if value is None:
            return default
        if re.fullmatch(r"[+-]?\d+", value) and low <= int(value) <= high:
            return int(value)
        fix = f"set a whole number from {low} to {high} (default {default})"
        self.problem(name, f"{value!r} is not a whole number from {low} to {high}", fix)
        return default

    def optional_rate(self, name: str, high: float) -> float | None:
        """A number above 0 and at most `high`, or None (no rate) when unset."""
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and 0 < number <= high:
            return number
        fix = f"set a number above 0 and at most {high:g}, or leave it empty for no rate"
        self.problem(name, f"{value!r} is not a number above 0 and at most {high:g}", fix)
        return None

    def schedule(self, name: str, default: str) -> str:
        """A six-field NCRONTAB schedule for a Functions timer."""
        value = self.text(name) or default
        reason = schedule_problem(value)
        if reason:
            fix = f"use six fields (second minute hour day month day-of-week), e.g. {default!r}"
            self.problem(name, f"{value!r} {reason}", fix)
            return default
        return value
