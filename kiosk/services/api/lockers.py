"""Lockers and members over the API: the desk's operations and readings (kiosk.store.lockers.LockerDesk).

The rules and the rights stay the desk's: a station's front desk acts as staff, admin actions as the operator whose
session the call carries. Every change answers with what changed (the assignment and the lockers it touched, as the
board shows them) and pushes the same on the event stream (`lockers`), so every other screen updates from the event.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from kiosk.core.lockers import (
    Assignment,
    HistoryFilter,
    LockerCounts,
    LockerState,
    LockerStatistics,
    MemberInfo,
    RosterPreview,
    RosterRow,
    normalise_enrollment,
    preview_roster,
)
from kiosk.protocol.answers import HistoryPage, LockerChange, RosterImported
from kiosk.protocol.api import ApiError, bad_input
from kiosk.services.api.events import EventHub
from kiosk.services.api.framework import ADMIN, DISPLAY, Call, Route, checked_text
from kiosk.store.lockers import LockerDesk

TOPIC = "lockers"
MAX_ROSTER_ROWS = 20_000
TEXT_LIMIT = 200


@dataclass(frozen=True)
class Scan:
    """A card scanned (or a number typed) at the desk; `locker` picks one on the map instead of the policy's."""

    scanned: str
    locker: int | None = None


@dataclass(frozen=True)
class Reason:
    reason: str


@dataclass(frozen=True)
class OutOfOrder:
    out: bool
    note: str = ""


@dataclass(frozen=True)
class NewMember:
    enrollment: str
    name: str
    programme: str = ""


@dataclass(frozen=True)
class MemberEdit:
    name: str
    programme: str = ""


@dataclass(frozen=True)
class MemberSearch:
    search: str = ""
    limit: int = 500


@dataclass(frozen=True)
class RosterText:
    """A roster CSV (header: enrollment, name, programme)."""

    text: str


@dataclass(frozen=True)
class RosterImport:
    """The new rows of a preview; `known` and `refused` are the preview's other counts (for the audit log)."""

    rows: list[RosterRow]
    known: int = 0
    refused: int = 0


@dataclass(frozen=True)
class HistoryQuery:
    member: str = ""
    locker: int | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class TimeRange:
    since: float
    until: float


class LockerApi:
    def __init__(self, desk: LockerDesk, events: EventHub, changed: Callable[[], None]) -> None:
        self._desk = desk
        self._events = events
        self._changed = changed  # the hub's locker service: recount, tell the wall displays and the window

    def routes(self) -> list[Route]:
        n = "/lockers/{number:\\d+}"
        change_errors = ((404, "not_found"), (409, "refused"))
        return [
            Route("GET", "/lockers", "Every locker in service with its holder (the board)", self.board,
                  answer=list[LockerState], tag="lockers"),
            Route("GET", "/lockers/counts", "Free, in use, overdue and out-of-order lockers now", self.counts,
                  answer=LockerCounts, tag="lockers", access=DISPLAY),
            Route("POST", "/lockers/assign", "Give the scanned member a locker (the policy's, or the one picked)",
                  self.assign, body=Scan, answer=LockerChange, tag="lockers",
                  errors=((409, "already_assigned"), (409, "raced"), (409, "refused")),
                  description="409 already_assigned: the member holds a locker (the message names it; scanning "
                              "again releases it). 409 raced: another station took that locker or served this "
                              "member at the same moment; nothing was changed, try again."),
            Route("POST", "/lockers/exit", "End the scanned member's assignment", self.exit, body=Scan,
                  answer=LockerChange, tag="lockers", errors=change_errors),
            Route("POST", n + "/release", "Release a locker at the desk", self.release, answer=LockerChange,
                  tag="lockers", errors=change_errors),
            Route("POST", n + "/force-release", "Force a locker free (admin; the reason goes to the audit log)",
                  self.force_release, access=ADMIN, body=Reason, answer=LockerChange, tag="lockers",
                  errors=change_errors),
            Route("POST", n + "/out-of-order", "Take a locker out of service, or put it back (admin)",
                  self.out_of_order, access=ADMIN, body=OutOfOrder, answer=LockerChange, tag="lockers",
                  errors=change_errors),
            Route("POST", "/lockers/release-overdue", "Release every overdue locker (admin)", self.release_overdue,
                  access=ADMIN, body=Reason, answer=LockerChange, tag="lockers", errors=change_errors),
            Route("GET", "/lockers/history", "Assignments, newest first (a page)", self.history,
                  query=HistoryQuery, answer=HistoryPage, tag="lockers"),
            Route("GET", "/lockers/history.csv", "The whole matching history as CSV", self.history_csv,
                  query=HistoryQuery, tag="lockers", raw=True),
            Route("GET", "/lockers/statistics", "Figures for a time range", self.statistics, query=TimeRange,
                  answer=LockerStatistics, tag="lockers"),
            Route("GET", "/members", "Members whose number or name contains the search", self.members,
                  query=MemberSearch, answer=list[MemberInfo], tag="members"),
            Route("GET", "/members/count", "How many members the roster holds", self.member_count, answer=int,
                  tag="members"),
            Route("GET", "/members/{enrollment}", "One member, with the locker they hold", self.member,
                  answer=MemberInfo, tag="members", errors=((404, "not_found"),)),
            Route("POST", "/members", "Add a member", self.add_member, body=NewMember, answer=MemberInfo,
                  tag="members", errors=((409, "refused"),)),
            Route("PUT", "/members/{enrollment}", "Change a member's name or programme", self.edit_member,
                  body=MemberEdit, answer=MemberInfo, tag="members", errors=((409, "refused"),)),
            Route("POST", "/roster/preview", "What importing a roster CSV would do (changes nothing)",
                  self.preview, body=RosterText, answer=RosterPreview, tag="members"),
            Route("POST", "/roster/import", "Add the new members of a preview", self.import_roster,
                  body=RosterImport, answer=RosterImported, tag="members"),
        ]

    # --- readings -------------------------------------------------------------------------------------------------

    def board(self, call: Call) -> list[LockerState]:
        return self._desk.board()

    def counts(self, call: Call) -> LockerCounts:
        return self._desk.counts()

    def history(self, call: Call) -> HistoryPage:
        rows, more = self._desk.history_rows(_history_filter(call.query))
        return HistoryPage(rows, more)

    def history_csv(self, call: Call) -> Callable[[web.Request], Any]:
        wanted = _history_filter(call.query)
        handle, path = tempfile.mkstemp(prefix="kiosk-history-", suffix=".csv")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                rows = self._desk.export_history(wanted, out, lambda written: None)
        except BaseException:
            os.unlink(path)
            raise

        async def respond(request: web.Request) -> web.StreamResponse:
            try:
                response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                                       "X-Rows": str(rows),
                                                       "Content-Disposition": 'attachment; filename="history.csv"'})
                await response.prepare(request)
                loop = asyncio.get_running_loop()
                with open(path, "rb") as source:
                    while chunk := await loop.run_in_executor(None, source.read, 256 * 1024):
                        await response.write(chunk)
                await response.write_eof()
                return response
            finally:
                os.unlink(path)

        return respond

    def statistics(self, call: Call) -> LockerStatistics:
        wanted: TimeRange = call.query
        if wanted.until <= wanted.since:
            raise bad_input("until", "until must be after since")
        return self._desk.statistics(wanted.since, wanted.until)

    def members(self, call: Call) -> list[MemberInfo]:
        wanted: MemberSearch = call.query
        return self._desk.members(_text(wanted.search, "search"), max(1, min(wanted.limit, 5000)))

    def member_count(self, call: Call) -> int:
        return self._desk.member_count()

    def member(self, call: Call) -> MemberInfo:
        info = self._desk.member(_enrollment(call.params["enrollment"]))
        if info is None:
            raise ApiError(404, "not_found", f"{call.params['enrollment'][:20]} is not on the roster")
        return info

    # --- the desk -------------------------------------------------------------------------------------------------

    def assign(self, call: Call) -> LockerChange:
        scan: Scan = call.body
        assert call.principal is not None
        done = self._desk.assign(_text(scan.scanned, "scanned"), call.principal.operator, scan.locker)
        return self._done("assign", call, [done])

    def exit(self, call: Call) -> LockerChange:
        scan: Scan = call.body
        assert call.principal is not None
        return self._done("exit", call, [self._desk.exit(_text(scan.scanned, "scanned"), call.principal.operator)])

    def release(self, call: Call) -> LockerChange:
        assert call.principal is not None
        return self._done("release", call, [self._desk.release_locker(_number(call), call.principal.operator)])

    def force_release(self, call: Call) -> LockerChange:
        assert call.principal is not None
        reason = _text(call.body.reason, "reason", 500)
        return self._done("force_release", call, [self._desk.force_exit(_number(call), reason,
                                                                        call.principal.operator)])

    def out_of_order(self, call: Call) -> LockerChange:
        assert call.principal is not None
        body: OutOfOrder = call.body
        number = _number(call)
        self._desk.set_out_of_order(number, body.out, _text(body.note, "note", 500), call.principal.operator)
        return self._done("out_of_order" if body.out else "in_service", call, [], [number])

    def release_overdue(self, call: Call) -> LockerChange:
        assert call.principal is not None
        done = self._desk.release_overdue(_text(call.body.reason, "reason", 500), call.principal.operator)
        return self._done("release_overdue", call, done)

    def add_member(self, call: Call) -> MemberInfo:
        body: NewMember = call.body
        assert call.principal is not None
        enrollment = self._desk.add_member(_text(body.enrollment, "enrollment"), _text(body.name, "name"),
                                           _text(body.programme, "programme"), call.principal.operator)
        self._done("member_add", call, [], members=True)
        return self._desk.member(enrollment) or MemberInfo(enrollment, body.name.strip(), body.programme.strip())

    def edit_member(self, call: Call) -> MemberInfo:
        body: MemberEdit = call.body
        assert call.principal is not None
        enrollment = _enrollment(call.params["enrollment"])
        self._desk.edit_member(enrollment, _text(body.name, "name"), _text(body.programme, "programme"),
                               call.principal.operator)
        info = self._desk.member(enrollment)
        self._done("member_edit", call, [], [info.locker] if info and info.locker else [], members=True)
        assert info is not None
        return info

    def preview(self, call: Call) -> RosterPreview:
        text = call.body.text
        if len(text) > 4_000_000:
            raise bad_input("text", "the roster is larger than the hub reads at once (4 MB)")
        return preview_roster(text, self._desk.enrollments())

    def import_roster(self, call: Call) -> RosterImported:
        body: RosterImport = call.body
        assert call.principal is not None
        if len(body.rows) > MAX_ROSTER_ROWS:
            raise bad_input("rows", f"a roster import takes at most {MAX_ROSTER_ROWS:,} rows at once")
        rows = []
        for index, row in enumerate(body.rows):
            try:
                enrollment = normalise_enrollment(row.enrollment)
            except ValueError as exc:
                raise bad_input(f"rows[{index}].enrollment", str(exc)) from None
            rows.append(RosterRow(row.line, enrollment, _text(row.name, f"rows[{index}].name"),
                                  _text(row.programme, f"rows[{index}].programme")))
        added = self._desk.import_roster(RosterPreview(tuple(rows), (), ()), call.principal.operator,
                                         (max(0, body.known), max(0, body.refused)))
        self._done("roster_import", call, [], members=True)
        return RosterImported(added)

    def _done(self, action: str, call: Call, assignments: list[Assignment], numbers: list[int] | None = None,
              members: bool = False) -> LockerChange:
        assert call.principal is not None
        touched = sorted({a.locker for a in assignments} | set(numbers or ()))
        change = LockerChange(action, call.principal.operator.name, assignments,
                              self._desk.board(touched) if touched else [], members, self._desk.counts())
        seq = self._events.publish(TOPIC, change)
        self._changed()
        return replace(change, seq=seq)


def _number(call: Call) -> int:
    return int(call.params["number"])


def _enrollment(text: str) -> str:
    try:
        return normalise_enrollment(text)
    except ValueError as exc:
        raise bad_input("enrollment", str(exc)) from None


def _text(value: str, name: str, limit: int = TEXT_LIMIT) -> str:
    return checked_text(value, name, limit)


def _history_filter(query: HistoryQuery) -> HistoryFilter:
    return HistoryFilter(_text(query.member, "member"), query.locker, query.since, query.until)
