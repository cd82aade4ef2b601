"""Timer triggers: NCRONTAB schedules, one firing per occurrence across instances, past due."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode
from azure.functions.timer import TimerRequest

from devstack.host.functions import TimerFunction, resolve_settings
from devstack.host.invocations import Invocations
from devstack.host.ncrontab import Schedule, ScheduleError, parse_schedule

log = logging.getLogger("devstack.host")
TIMER_TABLE = "devhosttimers"
"""The host's bookkeeping table: one row per claimed occurrence, one status row per timer."""
STATUS_ROW = "status"
# A wait ends this early at most; the occurrence is then awaited again.
_CLOCK_SLACK_S = 0.005
_MAX_STEPS = 4000
_HOUR = timedelta(hours=1)
_KEY_FORMAT = "%Y%m%dT%H%M%SZ"


def timer_schedule(function: TimerFunction, env: Mapping[str, str]) -> Schedule:
    """The timer's schedule with `%SETTING%` resolved from the app settings.

    Raises:
        ScheduleError: When a setting is missing or the schedule is not NCRONTAB.
    """
    try:
        text = resolve_settings(function.schedule, env)
    except KeyError as missing:
        raise ScheduleError(
            f"timer {function.name}: app setting {missing.args[0]} (its schedule "
            f"{function.schedule!r}) is not set"
        ) from None
    try:
        return parse_schedule(text)
    except ScheduleError as error:
        raise ScheduleError(f"timer {function.name}: {error}") from None


def latest_missed(schedule: Schedule, last: datetime, now: datetime) -> datetime | None:
    """The latest occurrence after `last` and at or before `now` (None: none was missed).

    The latest, not the first: every instance starting in the same period then claims the
    same occurrence, so a downtime is made up for by one firing, as the host does.
    """
    missed = None
    moment = last
    for _ in range(_MAX_STEPS):
        following = schedule.next_after(moment)
        if following > now:
            return missed
        missed = moment = following
    # A frequent schedule and a long downtime: look at the last hour only.
    return latest_missed(schedule, now - _HOUR, now) if last < now - _HOUR else missed


class TimerRunner:
    """Fires one timer function at each occurrence of its schedule (UTC), in one instance.

    Every instance runs one; an occurrence is claimed by inserting its row in the host's
    table, so only the instance whose insert succeeds fires it (the host's singleton lock).
    With `use_monitor`, the last fired occurrence is kept in a status row; an occurrence
    missed while no instance ran fires once at start with `past_due=True`.
    """

    def __init__(
        self,
        function: TimerFunction,
        schedule: Schedule,
        table: TableClient,
        *,
        invocations: Invocations,
        stopping: threading.Event,
    ) -> None:
        self.function = function
        self.schedule = schedule
        self.table = table
        self.invocations = invocations
        self.stopping = stopping
        self.thread = threading.Thread(target=self.run, name=f"timer-{function.name}", daemon=True)

    def run(self) -> None:
        """Fire at each occurrence until `stopping` is set."""
        if self.function.run_on_startup:  # as the host: at every instance start, unclaimed
            self._invoke(past_due=False, detail="run on startup")
        if self.function.use_monitor:
            self._fire_missed()
        after = datetime.now(UTC)
        while not self.stopping.is_set():
            occurrence = self.schedule.next_after(after)
            while not self.stopping.is_set():
                left = (occurrence - datetime.now(UTC)).total_seconds()
                if left <= _CLOCK_SLACK_S:
                    break
                self.stopping.wait(left)
            if self.stopping.is_set():
                return
            self.fire(occurrence, past_due=False)
            # A slow claim must not fire occurrences that passed meanwhile.
            after = max(occurrence, datetime.now(UTC) - timedelta(seconds=1))

    def fire(self, occurrence: datetime, *, past_due: bool) -> bool:
        """Claim `occurrence` and invoke the function if this instance got it (True)."""
        name, key = self.function.name, occurrence.astimezone(UTC).strftime(_KEY_FORMAT)
        try:
            self.table.create_entity({"PartitionKey": name, "RowKey": key})
            if self.function.use_monitor:
                status = {"PartitionKey": name, "RowKey": STATUS_ROW, "Last": key}
                self.table.upsert_entity(status, mode=UpdateMode.REPLACE)
        except ResourceExistsError:
            return False  # another instance fired it
        except AzureError as error:
            log.warning("timer %s: claiming %s failed: %s", name, occurrence, error)
            return False
        self._invoke(past_due=past_due, detail=f"occurrence {occurrence.isoformat()}")
        return True

    def _invoke(self, *, past_due: bool, detail: str) -> None:
        future = self.invocations.submit(
            self.function, TimerRequest(past_due=past_due), detail=detail, trigger="timer"
        )
        future.add_done_callback(self._report)

    def _fire_missed(self) -> None:
        try:
            status = self.table.get_entity(self.function.name, STATUS_ROW)
        except ResourceNotFoundError:
            return
        except AzureError as error:
            log.warning("timer %s: reading its status failed: %s", self.function.name, error)
            return
        last = datetime.strptime(str(status["Last"]), _KEY_FORMAT).replace(tzinfo=UTC)
        missed = latest_missed(self.schedule, last, datetime.now(UTC) - timedelta(seconds=1))
        if missed is not None:
            self.fire(missed, past_due=True)

    def _report(self, done: Future[Any]) -> None:
        error = None if done.cancelled() else done.exception()
        if error is not None:
            log.error("%s failed: %s: %s", self.function.name, type(error).__name__, error)
