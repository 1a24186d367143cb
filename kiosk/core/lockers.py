"""Locker rules, pure: who may get which locker, when an assignment is due, what is overdue.

The store enforces the same invariants in the database (one active assignment per locker, one per member), so two
stations or a double click can never double-assign; these functions decide and explain, in words for the desk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import Enum

ENROLLMENT = re.compile(r"^[A-Z]{2,4}\d{7}$")


class LockerError(ValueError):
    """An operation that cannot be done; the message says why and what to do next."""


class Policy(str, Enum):
    LOWEST = "lowest"  # the lowest free number: lockers near the desk fill first
    SPREAD = "spread"  # the free locker in the bank with the most free lockers: banks fill evenly


@dataclass(frozen=True)
class Locker:
    number: int
    bank: str
    out_of_order: bool = False


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
        return RosterPreview((), (), ((1, f"the header needs the column(s) {', '.join(missing)}"),))
    at = {name: header.index(name) for name in ("enrollment", "name", "programme") if name in header}
    new: list[RosterRow] = []
    known: list[RosterRow] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        cell = (lambda key: cells[at[key]].strip() if key in at and at[key] < len(cells) else "")
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
