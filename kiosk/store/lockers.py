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
from typing import Any, TextIO

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.core.lockers import (
    HISTORY_LIMIT,
    AlreadyAssigned,
    Assignment,
    HistoryFilter,
    HistoryRow,
    Locker,
    LockerCounts,
    LockerError,
    LockerRace,
    LockerState,
    LockerStatistics,
    MemberInfo,
    Policy,
    RosterPreview,
    bank_label,
    choose_locker,
    due_time,
    normalise_enrollment,
    parse_bank_labels,
    parse_closing,
)
from kiosk.core.operators import Operator, Role, require
from kiosk.protocol.spreadsheet import SafeWriter, write_locker_statistics
from kiosk.store.devices import write_audit
from kiosk.store.models import AuditEntry, LockerAssignment, LockerHour, Member
from kiosk.store.models import Locker as LockerRow


@dataclass(frozen=True)
class DueRule:
    hours: float | None = 4.0
    closing: day_time | None = None


class LockerDesk:
    def __init__(self, engine: Engine, policy: Policy = Policy.LOWEST, due: DueRule = DueRule(),
                 clock: Callable[[], float] = time.time, count: int | None = None) -> None:
        self._engine = engine
        self.policy = policy
        self.due = due
        self._clock = clock
        self.count = count  # lockers above this number are out of the map (once free); None: all of them
        self._marker = 0

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    # --- set-up ---------------------------------------------------------------------------------------------------

    def ensure_lockers(self, count: int, per_bank: int = 50, labels: tuple[str, ...] = ()) -> None:
        """Lockers 1..count exist, in banks of `per_bank` named by `labels` (else Bank A, B...); their state stays.

        A smaller count than before hides the lockers above it once they are free; their history stays."""
        self.count = count
        with self._session() as session, session.begin():
            have = {row.number: row for row in session.scalars(select(LockerRow))}
            for number in range(1, count + 1):
                bank = bank_label(number, per_bank, labels)
                if number not in have:
                    session.add(LockerRow(number=number, bank=bank, out_of_order=False, note=""))
                elif have[number].bank != bank:
                    have[number].bank = bank

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

    def edit_member(self, enrollment: str, name: str, programme: str, operator: Operator) -> None:
        enrollment = normalise_enrollment(enrollment)
        if not name.strip():
            raise LockerError("A member needs a name.")
        now = self._clock()
        with self._session() as session, session.begin():
            member = session.get(Member, enrollment)
            if member is None:
                raise LockerError(f"{enrollment} is not on the roster.")
            before = f"{member.name} / {member.programme}"
            member.name, member.programme = name.strip(), programme.strip()
            write_audit(session, now, operator.name, "member.edit", enrollment,
                        f"{before} -> {member.name} / {member.programme}")

    def member(self, enrollment: str) -> MemberInfo | None:
        with self._session() as session:
            row = session.get(Member, enrollment)
            if row is None:
                return None
            locker = session.scalar(select(LockerAssignment.locker).where(
                LockerAssignment.member == enrollment, LockerAssignment.released_at.is_(None)))
            return MemberInfo(row.enrollment, row.name, row.programme, locker)

    def members(self, search: str = "", limit: int = 500) -> list[MemberInfo]:
        """Members whose number or name contains `search` (case-insensitive), by number, with their locker."""
        query = (select(Member.enrollment, Member.name, Member.programme, LockerAssignment.locker)
                 .outerjoin(LockerAssignment, and_(LockerAssignment.member == Member.enrollment,
                                                   LockerAssignment.released_at.is_(None)))
                 .order_by(Member.enrollment).limit(limit))
        if search.strip():
            pattern = f"%{_escape_like(search.strip())}%"
            query = query.where(or_(Member.enrollment.ilike(pattern, escape="\\"),
                                    Member.name.ilike(pattern, escape="\\")))
        with self._session() as session:
            return [MemberInfo(*row) for row in session.execute(query)]

    def import_roster(self, preview: RosterPreview, operator: Operator, others: tuple[int, int] | None = None) -> int:
        """Add the previewed new members in one transaction; returns how many were added. `others`: (known,
        refused) when the preview was made elsewhere (a station sends only its new rows)."""
        known, refused = others if others is not None else (len(preview.known), len(preview.errors))
        now = self._clock()
        with self._session() as session, session.begin():
            have = set(session.scalars(select(Member.enrollment)))
            rows = [r for r in preview.new if r.enrollment not in have]
            session.add_all(Member(enrollment=r.enrollment, name=r.name, programme=r.programme, created_at=now)
                            for r in rows)
            write_audit(session, now, operator.name, "member.import", "roster",
                        f"{len(rows)} added, {known} known, {refused} refused")
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
                raise AlreadyAssigned(f"{member.name} already has locker {active.locker}. Scan the card again to "
                                      "release it.", active.locker)
            taken = set(session.scalars(select(LockerAssignment.locker).where(
                LockerAssignment.released_at.is_(None))))
            in_service = select(LockerRow.number, LockerRow.bank, LockerRow.out_of_order)
            if self.count is not None:
                in_service = in_service.where(LockerRow.number <= self.count)
            lockers = [Locker(n, bank, bool(out)) for n, bank, out in session.execute(in_service)]
            chosen = self._pick(lockers, taken, locker)
            due = due_time(datetime.fromtimestamp(now), self.due.hours, self.due.closing).timestamp()
            row = LockerAssignment(locker=chosen, member=enrollment, assigned_at=now, due_at=due,
                                   assigned_by=operator.name)
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise LockerRace("Another station just took that locker or served this member; try again.") from None
            write_audit(session, now, operator.name, "locker.assign", str(chosen), enrollment)
            _count_hour(session, now, assigned=1)
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

    def release_locker(self, locker: int, operator: Operator) -> Assignment:
        """The desk hands a locker back from the map (the member is standing there; staff may do it)."""
        with self._session() as session, session.begin():
            row = session.scalar(select(LockerAssignment).where(LockerAssignment.locker == locker,
                                                                LockerAssignment.released_at.is_(None)))
            if row is None:
                raise LockerError(f"Locker {locker} is not in use.")
            return self._release(session, row, operator, "exit", "")

    def release_overdue(self, reason: str, operator: Operator) -> list[Assignment]:
        """Admin only, with a reason: free every overdue locker at once (e.g. at closing time). Audited per locker."""
        _require_admin(operator, "release all overdue lockers")
        if not reason.strip():
            raise LockerError("Releasing overdue lockers needs a reason (it goes to the audit log).")
        now = self._clock()
        with self._session() as session, session.begin():
            rows = list(session.scalars(select(LockerAssignment).where(
                LockerAssignment.released_at.is_(None), LockerAssignment.due_at <= now)
                .order_by(LockerAssignment.locker)))
            return [self._release(session, row, operator, "overdue", reason.strip()) for row in rows]

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
        _count_hour(session, row.assigned_at, released=1, held_s=now - row.assigned_at, forced=int(kind == "force"),
                    overdue=int(kind == "overdue"))
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

    def board(self, numbers: list[int] | None = None) -> list[LockerState]:
        """Every locker in service with its holder (or only these `numbers`): one query, for the map, the lists and
        the counts."""
        query = (select(LockerRow.number, LockerRow.bank, LockerRow.out_of_order, LockerRow.note,
                        LockerAssignment.member, Member.name, Member.programme, LockerAssignment.assigned_at,
                        LockerAssignment.due_at)
                 .outerjoin(LockerAssignment, and_(LockerAssignment.locker == LockerRow.number,
                                                   LockerAssignment.released_at.is_(None)))
                 .outerjoin(Member, Member.enrollment == LockerAssignment.member)
                 .order_by(LockerRow.number))
        if self.count is not None:
            query = query.where(or_(LockerRow.number <= self.count, LockerAssignment.id.is_not(None)))
        if numbers is not None:
            query = query.where(LockerRow.number.in_(numbers))
        with self._engine.connect() as connection:  # Core, not an ORM session: 2.4 ms instead of 6 for 1,000
            return [LockerState(n, bank, bool(out), note or "", member, name or "", programme or "", at, due)
                    for n, bank, out, note, member, name, programme, at, due in connection.execute(query)]

    def counts(self, now: float | None = None) -> LockerCounts:
        """The four counts in one aggregate query (the hub's locker thread runs this; it must not hold the GIL
        building a board the GUI thread is also building)."""
        at = self._clock() if now is None else now
        held = LockerAssignment.id.is_not(None)
        query = (select(func.count().filter(~held, LockerRow.out_of_order.is_(False)), func.count().filter(held),
                        func.count().filter(held, LockerAssignment.due_at <= at),
                        func.count().filter(~held, LockerRow.out_of_order.is_(True)))
                 .select_from(LockerRow)
                 .outerjoin(LockerAssignment, and_(LockerAssignment.locker == LockerRow.number,
                                                   LockerAssignment.released_at.is_(None))))
        if self.count is not None:
            query = query.where(or_(LockerRow.number <= self.count, held))
        with self._engine.connect() as connection:
            free, in_use, overdue, out_of_order = connection.execute(query).one()
        return LockerCounts(free, in_use, overdue, out_of_order)

    def changed_since(self, marker: int) -> int:
        """The newest locker or member change in the audit log after `marker` (another station's, the CLI's...);
        `marker` itself when there is none. Reads only the rows after the marker."""
        with self._session() as session:
            newest = session.scalar(select(func.max(AuditEntry.id)).where(
                AuditEntry.id > marker, or_(AuditEntry.action.like("locker.%"), AuditEntry.action.like("member.%"))))
            return newest or marker

    # --- history and figures --------------------------------------------------------------------------------------

    def _history_query(self, session: Session, wanted: HistoryFilter):  # type: ignore[no-untyped-def]
        query = (select(LockerAssignment.id, LockerAssignment.locker, LockerAssignment.member, Member.name,
                        LockerAssignment.assigned_at, LockerAssignment.due_at, LockerAssignment.released_at,
                        LockerAssignment.release_kind, LockerAssignment.assigned_by, LockerAssignment.released_by,
                        LockerAssignment.release_reason)
                 .join(Member, Member.enrollment == LockerAssignment.member)
                 .order_by(LockerAssignment.assigned_at.desc(), LockerAssignment.id.desc()))
        if wanted.member.strip():
            # Members first (10,000 at most, a fast scan), then their assignments through the member index.
            pattern = f"%{_escape_like(wanted.member.strip())}%"
            matching = list(session.scalars(select(Member.enrollment).where(or_(
                Member.enrollment.ilike(pattern, escape="\\"), Member.name.ilike(pattern, escape="\\")))))
            query = query.where(LockerAssignment.member.in_(matching))
        if wanted.locker is not None:
            query = query.where(LockerAssignment.locker == wanted.locker)
        if wanted.since is not None:
            query = query.where(LockerAssignment.assigned_at >= wanted.since)
        if wanted.until is not None:
            query = query.where(LockerAssignment.assigned_at < wanted.until)
        return query

    def history_rows(self, wanted: HistoryFilter = HistoryFilter(),
                     limit: int = HISTORY_LIMIT) -> tuple[list[HistoryRow], bool]:
        """The newest `limit` matching assignments, and whether there are more."""
        with self._session() as session:
            rows = [HistoryRow(*r) for r in session.execute(self._history_query(session, wanted).limit(limit + 1))]
        return rows[:limit], len(rows) > limit

    def export_history(self, wanted: HistoryFilter, out: TextIO,
                       progress: Callable[[int], bool] = lambda n: True) -> int:
        """Every matching assignment as CSV (newest first); `progress(rows so far)` returning False cancels."""
        writer = SafeWriter(out)
        writer.writerow(["locker", "enrollment", "name", "assigned", "due", "released", "duration_min",
                         "release", "assigned_by", "released_by", "reason"])
        written = 0
        with self._session() as session:
            result = session.execute(self._history_query(session, wanted).execution_options(yield_per=5000))
            for r in result:
                row = HistoryRow(*r)
                writer.writerow([row.locker, row.member, row.name, _iso(row.assigned_at), _iso(row.due_at),
                                 _iso(row.released_at),
                                 "" if row.released_at is None else round((row.released_at - row.assigned_at) / 60),
                                 row.release_kind or "", row.assigned_by, row.released_by or "", row.reason or ""])
                written += 1
                if written % 5000 == 0 and not progress(written):
                    break
        progress(written)
        return written

    def statistics(self, since: float, until: float, now: float | None = None) -> LockerStatistics:
        """Figures for assignments that started in [since, until), by local day and hour, and the counts now.

        Read from the hourly counts (`locker_hours`), so whole local hours: `since` and `until` are taken to the hour
        they fall in (the Figures page asks for whole days)."""
        at = self._clock() if now is None else now
        first, last = _slot(since), _slot(max(since, until - 1e-3))
        window = and_(LockerHour.slot >= first, LockerHour.slot <= last)
        with self._session() as session:
            rows = session.execute(select(LockerHour.slot, LockerHour.assigned, LockerHour.released,
                                          LockerHour.held_s, LockerHour.forced, LockerHour.overdue)
                                   .where(window).order_by(LockerHour.slot)).all()
        per_day: dict[str, int] = {}
        per_hour = [0] * 24
        released = held = forced = overdue = total = 0
        for slot, n_assigned, n_released, held_s, n_forced, n_overdue in rows:
            day = f"{slot // 1000000:04d}-{slot // 10000 % 100:02d}-{slot // 100 % 100:02d}"
            per_day[day] = per_day.get(day, 0) + n_assigned
            per_hour[slot % 100] += n_assigned
            total += n_assigned
            released += n_released
            held += held_s
            forced += n_forced
            overdue += n_overdue
        return LockerStatistics(since, until, self.counts(at), total, [(d, n) for d, n in per_day.items() if n],
                                per_hour, held / released if released else None, forced, overdue)

    def rebuild_hours(self) -> None:
        """Recount `locker_hours` from the history (after a bulk import of history rows, e.g. the benchmark)."""
        with self._engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM locker_hours")
            connection.exec_driver_sql(HOURS_FROM_HISTORY)

    @staticmethod
    def export_statistics(figures: LockerStatistics, out: TextIO) -> None:
        """The figures as CSV (kiosk.protocol.spreadsheet.write_locker_statistics)."""
        write_locker_statistics(figures, out)

    def member_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(Member)) or 0


def locker_desk_for(config: Any, engine: Engine, clock: Callable[[], float] = time.time) -> LockerDesk:
    """The desk as the settings describe it (policy, due rule), with the lockers and banks they describe."""
    closing = parse_closing(config.lockers.closing_time)
    desk = LockerDesk(engine, Policy(config.lockers.policy),
                      DueRule(None if closing else config.lockers.due_hours, closing), clock)
    desk.ensure_lockers(config.lockers.count, config.lockers.bank_size,
                        parse_bank_labels(config.lockers.bank_labels))
    return desk


HOURS_FROM_HISTORY = (
    "INSERT INTO locker_hours (slot, assigned, released, held_s, forced, overdue) "
    "SELECT CAST(strftime('%Y%m%d%H', assigned_at, 'unixepoch', 'localtime') AS INTEGER) AS s, count(*), "
    "count(released_at), coalesce(sum(released_at - assigned_at), 0), coalesce(sum(release_kind = 'force'), 0), "
    "coalesce(sum(release_kind = 'overdue'), 0) FROM locker_assignments GROUP BY s")


def _slot(at: float) -> int:
    """The local hour of a moment as YYYYMMDDHH (the key of locker_hours)."""
    moment = datetime.fromtimestamp(at)
    return ((moment.year * 100 + moment.month) * 100 + moment.day) * 100 + moment.hour


def _count_hour(session: Session, at: float, assigned: int = 0, released: int = 0, held_s: float = 0.0,
                forced: int = 0, overdue: int = 0) -> None:
    """Add to the hour an assignment started in, in the caller's transaction (an upsert: one statement)."""
    values = {"assigned": assigned, "released": released, "held_s": held_s, "forced": forced, "overdue": overdue}
    statement = sqlite_insert(LockerHour).values(slot=_slot(at), **values)
    session.execute(statement.on_conflict_do_update(
        index_elements=[LockerHour.slot],
        set_={name: getattr(LockerHour, name) + getattr(statement.excluded, name) for name in values}))


def _escape_like(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _iso(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at).isoformat(sep=" ", timespec="seconds")


def _require_admin(operator: Operator, what: str) -> None:
    require(operator, Role.ADMIN, what)


def _assignment(row: LockerAssignment) -> Assignment:
    return Assignment(row.id, row.locker, row.member, row.assigned_at, row.due_at, row.released_at,
                      row.release_kind)
