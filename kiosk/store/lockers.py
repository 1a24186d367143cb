"""Locker operations: assign, exit, force exit, out of order; members. Rights are checked here, not in the UI.

Each operation is one transaction. The database's partial unique indexes (one active assignment per locker, one per
member) are the last word: a second station that raced us gets a clear LockerError, never a double assignment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import time as day_time
from enum import Enum

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.core.lockers import (Locker, LockerError, Policy, RosterPreview, choose_locker, due_time,
                                normalise_enrollment)
from kiosk.store.devices import write_audit
from kiosk.store.models import Locker as LockerRow
from kiosk.store.models import LockerAssignment, Member


class Role(str, Enum):
    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role


@dataclass(frozen=True)
class Assignment:
    id: int
    locker: int
    member: str
    assigned_at: float
    due_at: float
    released_at: float | None = None
    release_kind: str | None = None


@dataclass(frozen=True)
class DueRule:
    hours: float | None = 4.0
    closing: day_time | None = None


class LockerDesk:
    def __init__(self, engine: Engine, policy: Policy = Policy.LOWEST, due: DueRule = DueRule(),
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self.policy = policy
        self.due = due
        self._clock = clock

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    # --- set-up ---------------------------------------------------------------------------------------------------

    def ensure_lockers(self, count: int, per_bank: int = 50) -> None:
        """Lockers 1..count exist, in banks A, B, ... of `per_bank`; existing ones keep their state."""
        with self._session() as session, session.begin():
            have = set(session.scalars(select(LockerRow.number)))
            for number in range(1, count + 1):
                if number not in have:
                    session.add(LockerRow(number=number, bank=chr(ord("A") + (number - 1) // per_bank),
                                          out_of_order=False, note=""))

    def add_member(self, enrollment: str, name: str, programme: str, operator: Operator) -> str:
        enrollment = normalise_enrollment(enrollment)
        if not name.strip():
            raise LockerError("A member needs a name.")
        now = self._clock()
        with self._session() as session, session.begin():
            if session.get(Member, enrollment) is not None:
                raise LockerError(f"{enrollment} is already a member.")
            session.add(Member(enrollment=enrollment, name=name.strip(), programme=programme.strip(),
                               created_at=now))
            write_audit(session, now, operator.name, "member.add", enrollment, "")
        return enrollment

    def enrollments(self) -> set[str]:
        with self._session() as session:
            return set(session.scalars(select(Member.enrollment)))

    def import_roster(self, preview: RosterPreview, operator: Operator) -> int:
        """Add the previewed new members in one transaction; returns how many were added."""
        now = self._clock()
        with self._session() as session, session.begin():
            have = set(session.scalars(select(Member.enrollment)))
            rows = [r for r in preview.new if r.enrollment not in have]
            session.add_all(Member(enrollment=r.enrollment, name=r.name, programme=r.programme, created_at=now)
                            for r in rows)
            write_audit(session, now, operator.name, "member.import", "roster",
                        f"{len(rows)} added, {len(preview.known)} known, {len(preview.errors)} refused")
        return len(rows)

    # --- the desk -------------------------------------------------------------------------------------------------

    def assign(self, scanned: str, operator: Operator, locker: int | None = None) -> Assignment:
        """Give the member a locker (the policy's choice, or the one picked on the map)."""
        enrollment = normalise_enrollment(scanned)
        now = self._clock()
        with self._session() as session, session.begin():
            member = session.get(Member, enrollment)
            if member is None:
                raise LockerError(f"{enrollment} is not on the roster. Add the member (name, programme) first.")
            active = session.scalar(select(LockerAssignment).where(LockerAssignment.member == enrollment,
                                                                   LockerAssignment.released_at.is_(None)))
            if active is not None:
                raise LockerError(f"{member.name} already has locker {active.locker}. Scan again to release it "
                                  "first.")
            taken = set(session.scalars(select(LockerAssignment.locker).where(
                LockerAssignment.released_at.is_(None))))
            lockers = [Locker(r.number, r.bank, r.out_of_order) for r in session.scalars(select(LockerRow))]
            chosen = self._pick(lockers, taken, locker)
            due = due_time(datetime.fromtimestamp(now), self.due.hours, self.due.closing).timestamp()
            row = LockerAssignment(locker=chosen, member=enrollment, assigned_at=now, due_at=due,
                                   assigned_by=operator.name)
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise LockerError("Another station just took that locker or served this member; try again.") from None
            write_audit(session, now, operator.name, "locker.assign", str(chosen), enrollment)
            return _assignment(row)

    def _pick(self, lockers: list[Locker], taken: set[int], wanted: int | None) -> int:
        if wanted is None:
            return choose_locker(lockers, taken, self.policy).number
        by_number = {locker.number: locker for locker in lockers}
        if wanted not in by_number:
            raise LockerError(f"There is no locker {wanted}.")
        if by_number[wanted].out_of_order:
            raise LockerError(f"Locker {wanted} is out of order; pick another.")
        if wanted in taken:
            raise LockerError(f"Locker {wanted} is in use; pick a free one.")
        return wanted

    def exit(self, scanned: str, operator: Operator) -> Assignment:
        """The member hands the locker back."""
        enrollment = normalise_enrollment(scanned)
        with self._session() as session, session.begin():
            row = session.scalar(select(LockerAssignment).where(LockerAssignment.member == enrollment,
                                                                LockerAssignment.released_at.is_(None)))
            if row is None:
                raise LockerError(f"{enrollment} has no locker right now.")
            return self._release(session, row, operator, "exit", "")

    def force_exit(self, locker: int, reason: str, operator: Operator) -> Assignment:
        """Admin only, with a reason: e.g. a member who left without handing the key back."""
        _require_admin(operator, "force a locker free")
        if not reason.strip():
            raise LockerError("A forced release needs a reason (it goes to the audit log).")
        with self._session() as session, session.begin():
            row = session.scalar(select(LockerAssignment).where(LockerAssignment.locker == locker,
                                                                LockerAssignment.released_at.is_(None)))
            if row is None:
                raise LockerError(f"Locker {locker} is not in use.")
            return self._release(session, row, operator, "force", reason.strip())

    def set_out_of_order(self, locker: int, out: bool, note: str, operator: Operator) -> None:
        _require_admin(operator, "mark lockers out of order")
        now = self._clock()
        with self._session() as session, session.begin():
            row = session.get(LockerRow, locker)
            if row is None:
                raise LockerError(f"There is no locker {locker}.")
            if out and session.scalar(select(LockerAssignment.id).where(
                    LockerAssignment.locker == locker, LockerAssignment.released_at.is_(None))) is not None:
                raise LockerError(f"Locker {locker} is in use; release it before marking it out of order.")
            row.out_of_order, row.note = out, note.strip()
            write_audit(session, now, operator.name, "locker.out_of_order" if out else "locker.back_in_service",
                        str(locker), note.strip())

    def _release(self, session: Session, row: LockerAssignment, operator: Operator, kind: str,
                 reason: str) -> Assignment:
        now = self._clock()
        row.released_at, row.released_by, row.release_kind, row.release_reason = now, operator.name, kind, reason
        write_audit(session, now, operator.name, f"locker.{kind}", str(row.locker), f"{row.member} {reason}".strip())
        return _assignment(row)

    # --- reading --------------------------------------------------------------------------------------------------

    def active(self) -> list[Assignment]:
        with self._session() as session:
            return [_assignment(r) for r in session.scalars(select(LockerAssignment).where(
                LockerAssignment.released_at.is_(None)).order_by(LockerAssignment.locker))]

    def history(self, limit: int = 1000) -> list[Assignment]:
        with self._session() as session:
            return [_assignment(r) for r in session.scalars(select(LockerAssignment).order_by(
                LockerAssignment.id.desc()).limit(limit))]

    def lockers(self) -> list[Locker]:
        with self._session() as session:
            return [Locker(r.number, r.bank, r.out_of_order) for r in
                    session.scalars(select(LockerRow).order_by(LockerRow.number))]

    def member_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(Member)) or 0


def _require_admin(operator: Operator, what: str) -> None:
    if operator.role is not Role.ADMIN:
        raise PermissionError(f"Only an admin may {what}.")


def _assignment(row: LockerAssignment) -> Assignment:
    return Assignment(row.id, row.locker, row.member, row.assigned_at, row.due_at, row.released_at,
                      row.release_kind)
