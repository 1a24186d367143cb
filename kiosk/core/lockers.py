"""Locker rules, pure: who may get which locker, when an assignment is due, what is overdue.

The store enforces the same invariants in the database (one active assignment per locker, one per member), so two
stations or a double click can never double-assign; these functions decide and explain, in words for the desk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum
from typing import NamedTuple

ENROLLMENT = re.compile(r"^[A-Z]{2,4}\d{7}$")
HISTORY_LIMIT = 1000  # rows a history view shows; exports have no limit


class LockerError(ValueError):
    """An operation that cannot be done; the message says why and what to do next."""


class LockerRace(LockerError):
    """Another station did the same at the same moment and the database kept theirs: try again."""


class Policy(str, Enum):
    LOWEST = "lowest"  # the lowest free number: lockers near the desk fill first
    SPREAD = "spread"  # the free locker in the bank with the most free lockers: banks fill evenly


class LockerStatus(str, Enum):
    FREE = "free"
    IN_USE = "in use"
    OVERDUE = "overdue"
    OUT_OF_ORDER = "out of order"


@dataclass(frozen=True)
class Locker:
    number: int
    bank: str
    out_of_order: bool = False


@dataclass(frozen=True)
class LockerCounts:
    free: int = 0
    in_use: int = 0  # includes the overdue ones
    overdue: int = 0
    out_of_order: int = 0

    @property
    def total(self) -> int:
        return self.free + self.in_use + self.out_of_order


class AlreadyAssigned(LockerError):
    """The member already holds a locker; `locker` says which (the desk offers to release it)."""

    def __init__(self, message: str, locker: int) -> None:
        super().__init__(message)
        self.locker = locker


def bank_label(number: int, bank_size: int, labels: tuple[str, ...] = ()) -> str:
    """Lockers 1..bank_size are the first bank, and so on; banks are named by `labels`, else A, B, C..."""
    index = (number - 1) // max(1, bank_size)
    if index < len(labels) and labels[index].strip():
        return labels[index].strip()
    return "Bank " + (chr(ord("A") + index) if index < 26 else str(index + 1))


def parse_bank_labels(text: str) -> tuple[str, ...]:
    """`"Ground floor, First floor"` -> ("Ground floor", "First floor"); empty entries keep the letter name."""
    return tuple(part.strip() for part in text.split(",")) if text.strip() else ()


def parse_closing(text: str) -> time | None:
    """`"21:30"` -> 21:30; empty -> None (assignments are due after a number of hours instead)."""
    text = text.strip()
    if not text:
        return None
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(hour, minute)
    except ValueError:
        raise ValueError(f"{text!r} is not a time like 21:30") from None


def locker_status(out_of_order: bool, due_at: float | None, now: float) -> LockerStatus:
    if due_at is not None:
        return LockerStatus.OVERDUE if is_overdue(due_at, now) else LockerStatus.IN_USE
    return LockerStatus.OUT_OF_ORDER if out_of_order else LockerStatus.FREE


def count_statuses(statuses: Iterable[LockerStatus]) -> LockerCounts:
    tally = {status: 0 for status in LockerStatus}
    for status in statuses:
        tally[status] += 1
    return LockerCounts(tally[LockerStatus.FREE], tally[LockerStatus.IN_USE] + tally[LockerStatus.OVERDUE],
                        tally[LockerStatus.OVERDUE], tally[LockerStatus.OUT_OF_ORDER])


def describe_duration(seconds: float) -> str:
    """3725 -> "1 h 2 min"; 50 -> "1 min" (a desk reads minutes, not seconds)."""
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"


def normalise_enrollment(raw: str) -> str:
    """`cs2021001 ` -> `CS2021001`; raises LockerError for anything that is not an enrollment number."""
    text = raw.strip().upper()
    if not ENROLLMENT.match(text):
        raise LockerError(f"{raw.strip()[:20]!r} is not an enrollment number (like CS2021001): scan the card again "
                          "or type it")
    return text


def choose_locker(lockers: Iterable[Locker], taken: set[int], policy: Policy) -> Locker:
    """The locker the next member gets; raises LockerError when none is free."""
    free = [locker for locker in lockers if not locker.out_of_order and locker.number not in taken]
    if not free:
        raise LockerError("No locker is free. Ask the member to wait, or release an overdue locker "
                          "(end-of-day list).")
    if policy is Policy.SPREAD:
        per_bank: dict[str, int] = {}
        for locker in free:
            per_bank[locker.bank] = per_bank.get(locker.bank, 0) + 1
        return min(free, key=lambda locker: (-per_bank[locker.bank], locker.number))
    return min(free, key=lambda locker: locker.number)


def due_time(assigned_at: datetime, hours: float | None, closing: time | None) -> datetime:
    """When an assignment is due: after `hours`, or at closing time today (tomorrow's if already past)."""
    if hours is not None:
        return assigned_at + timedelta(hours=hours)
    if closing is None:
        raise ValueError("give hours or a closing time")
    due = assigned_at.replace(hour=closing.hour, minute=closing.minute, second=0, microsecond=0)
    return due if due > assigned_at else due + timedelta(days=1)


def is_overdue(due_at: float, now: float) -> bool:
    return now >= due_at


DEMO_ROSTER = (
    ("CS2021001", "Rahul Sharma", "CS"), ("CS2021002", "Priya Patel", "CS"), ("EC2021001", "Amit Kumar", "EC"),
    ("ME2021001", "Sneha Gupta", "ME"), ("CS2021003", "Vikram Singh", "CS"), ("EC2021002", "Anjali Verma", "EC"),
    ("ME2021002", "Ravi Mehta", "ME"), ("CS2021004", "Pooja Jain", "CS"), ("EC2021003", "Suresh Yadav", "EC"),
    ("ME2021003", "Kavita Nair", "ME"),
)


def demo_roster_csv() -> str:
    """The demo roster as a roster CSV file would have it."""
    return "enrollment,name,programme\n" + "".join(f"{e},{n},{p}\n" for e, n, p in DEMO_ROSTER)


@dataclass(frozen=True)
class RosterRow:
    line: int
    enrollment: str
    name: str
    programme: str


@dataclass(frozen=True)
class RosterPreview:
    """What an import would do, before it does it: rows to add, rows already known, and errors by line."""

    new: tuple[RosterRow, ...]
    known: tuple[RosterRow, ...]
    errors: tuple[tuple[int, str], ...]


def preview_roster(text: str, existing: set[str]) -> RosterPreview:
    """Read a roster CSV (header: enrollment, name, programme; any order, any case) without changing anything."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("enrollment", "name") if c not in header]
    if missing:
        columns = 'column' if len(missing) == 1 else 'columns'
        return RosterPreview((), (), ((1, f"the header needs the {columns} {', '.join(missing)}"),))
    at = {name: header.index(name) for name in ("enrollment", "name", "programme") if name in header}
    new: list[RosterRow] = []
    known: list[RosterRow] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        def cell(key: str, cells: list[str] = cells) -> str:
            return cells[at[key]].strip() if key in at and at[key] < len(cells) else ""

        try:
            enrollment = normalise_enrollment(cell("enrollment"))
        except LockerError as exc:
            errors.append((line, str(exc).split(":")[0]))
            continue
        if not cell("name"):
            errors.append((line, f"{enrollment}: the name is empty"))
            continue
        if enrollment in seen:
            errors.append((line, f"{enrollment} is also on line {seen[enrollment]}"))
            continue
        seen[enrollment] = line
        row = RosterRow(line, enrollment, cell("name"), cell("programme"))
        (known if enrollment in existing else new).append(row)
    return RosterPreview(tuple(new), tuple(known), tuple(errors))


# --- what the desk reads (built by kiosk.store.lockers, shown by the Lockers tab) -----------------------------


class LockerState(NamedTuple):
    """One locker as the desk sees it now: its place, and who holds it until when. A named tuple: a board of 1,000
    is built on every change, and a frozen dataclass took 3 ms of the scan's 50 ms budget just to construct."""

    number: int
    bank: str
    out_of_order: bool
    note: str = ""
    member: str | None = None
    name: str = ""
    programme: str = ""
    assigned_at: float | None = None
    due_at: float | None = None

    def status(self, now: float) -> LockerStatus:
        return locker_status(self.out_of_order, self.due_at, now)


@dataclass(frozen=True)
class Assignment:
    """One locker given to one member: when, until when, and (once over) how it ended."""

    id: int
    locker: int
    member: str
    assigned_at: float
    due_at: float
    released_at: float | None = None
    release_kind: str | None = None


@dataclass(frozen=True)
class MemberInfo:
    enrollment: str
    name: str
    programme: str
    locker: int | None = None


@dataclass(frozen=True)
class HistoryFilter:
    """Assignments that started in [since, until), of members whose number or name contains `member`."""

    member: str = ""
    locker: int | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class HistoryRow:
    id: int
    locker: int
    member: str
    name: str
    assigned_at: float
    due_at: float
    released_at: float | None
    release_kind: str | None
    assigned_by: str
    released_by: str | None
    reason: str | None


@dataclass(frozen=True)
class LockerStatistics:
    since: float
    until: float
    now: LockerCounts
    assignments: int
    per_day: list[tuple[str, int]] = field(default_factory=list)  # (YYYY-MM-DD local, assignments started)
    per_hour: list[int] = field(default_factory=list)  # 24 counts by local hour of assignment
    average_duration_s: float | None = None
    forced: int = 0
    overdue_released: int = 0

    @property
    def busiest_hours(self) -> list[int]:
        """The hours of day (0-23) with the most assignments, busiest first (up to three, none if no data)."""
        ranked = sorted((h for h in range(24) if self.per_hour[h]), key=lambda h: (-self.per_hour[h], h))
        return ranked[:3]
