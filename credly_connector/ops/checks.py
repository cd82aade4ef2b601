"""Health check results, and how a connector error reads as a cause and a fix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from credly_connector.errors import ConfigurationError, ConnectorError, RetryableError

Status = Literal["pass", "warn", "fail"]
REDACTED = "***"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|KEY|AzureWebJobsStorage$", re.IGNORECASE)
_MIN_SECRET = 4


@dataclass(frozen=True)
class Check:
    """One health check: what was checked, whether it passed, and if not why and what to do.

    Attributes:
        name: What was checked, e.g. `credly organisation <id>`.
        status: `pass`, `warn` (passes, but act soon) or `fail`.
        detail: What was found.
        cause: Why it failed or warns (empty when it passes).
        fix: What the admin can do about it (empty when it passes).
    """

    name: str
    status: Status
    detail: str
    cause: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        """Passed, possibly with a warning."""
        return self.status != "fail"

    def to_json(self) -> dict[str, Any]:
        """`{name, ok, status, detail, cause, fix}`."""
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status,
            "detail": self.detail,
            "cause": self.cause,
            "fix": self.fix,
        }

    def redacted(self, secrets: Iterable[str]) -> Check:
        """This check with every secret value in its texts replaced by `***`."""
        values = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

        def scrub(text: str) -> str:
            for value in values:
                text = text.replace(value, REDACTED)
            return text

        return Check(
            self.name,
            self.status,
            scrub(self.detail),
            scrub(self.cause),
            scrub(self.fix),
        )


def passed(name: str, detail: str) -> Check:
    """A passing check."""
    return Check(name, "pass", detail)


def failed(name: str, detail: str, cause: str, fix: str) -> Check:
    """A failing check with its cause and fix."""
    return Check(name, "fail", detail, cause, fix)


def describe_error(error: ConnectorError, default_fix: str) -> tuple[str, str]:
    """(cause, fix) for an error: its message, and its own fix or `default_fix`."""
    text = str(error)
    fix = error.fix if isinstance(error, ConfigurationError) and error.fix else ""
    if fix and text.endswith(f" Fix: {fix}"):
        text = text[: -len(f" Fix: {fix}")]
    if not fix and isinstance(error, RetryableError):
        fix = f"{default_fix} (the service did not answer in time or failed; try again)"
    return text, fix or default_fix


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of settings named like secrets, and the keys inside storage connection strings."""
    values = [v.strip() for k, v in env.items() if _SECRET_NAME.search(k) and v.strip()]
    for value in list(values):
        values.extend(
            part.partition("=")[2]
            for part in value.split(";")
            if part.strip().lower().startswith(("accountkey=", "sharedaccesssignature="))
        )
    return [v for v in values if v]
