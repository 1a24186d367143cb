"""The Lockers tab's operations over the hub's API: the methods the tab calls (tests/in_process has the same on
the store, for the views' own tests).

Staff operations go as this station's front desk; admin operations need an operator's session open on the client
(kiosk.client.session.RemoteOperators signs in). Refusals raise `ApiError`, whose message is the desk's own
sentence ("Locker 12 is in use; pick a free one."), so the tab shows it as it shows the store's.
"""

from __future__ import annotations

from typing import Any, TextIO

from kiosk.client.http import ApiClient, HubUnreachable, chunks_to
from kiosk.client.session import DeskSignIn
from kiosk.core.lockers import (
    AlreadyAssigned,
    Assignment,
    HistoryFilter,
    HistoryRow,
    LockerCounts,
    LockerError,
    LockerRace,
    LockerState,
    LockerStatistics,
    MemberInfo,
    RosterPreview,
)
from kiosk.protocol.answers import HistoryPage, LockerChange, RosterImported
from kiosk.protocol.api import ApiError, to_wire
from kiosk.protocol.spreadsheet import write_locker_statistics


class RemoteLockers:
    """Keeps the board it read and applies every change to it (this station's answers and other stations' events,
    each locker only from a newer event than the one it shows), so a scan costs one call, not a board of 1,000.
    `invalidate()` (a hub restart, a change the events did not describe) makes the next `board()` read it all."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.desk_signin = DeskSignIn(client)  # staff signed in at the desk (their name in the audit log)
        self.last_change: LockerChange | None = None
        self._board: dict[int, LockerState] | None = None
        self._seq: dict[int, int] = {}  # locker -> the event seq its shown state came from
        self.full_reads = 0

    def invalidate(self) -> None:
        self._board = None

    def apply(self, change: LockerChange) -> None:
        """A change (an answer, or an event's data with the event's seq) applied to the kept board."""
        if self._board is None:
            return
        if change.action == "changed":
            self._board = None  # the event did not say what changed (the hub window's or the CLI's change)
            return
        for state in change.lockers:
            if change.seq and self._seq.get(state.number, 0) > change.seq:
                continue  # a newer event about this locker arrived first
            self._board[state.number] = state
            self._seq[state.number] = change.seq

    def event(self, data: object, seq: int) -> None:
        """A `lockers` event from the hub's stream (kiosk.client.events), applied to the kept board."""
        from kiosk.protocol.api import from_wire

        try:
            change: LockerChange = from_wire(LockerChange, data)
        except ApiError:
            self._board = None
            return
        self.apply(LockerChange(change.action, change.by, change.assignments, change.lockers, change.members,
                                change.counts, seq))

    def _change(self, path: str, body: Any = None, admin: bool = False) -> LockerChange:
        """One operation; refusals raised as the desk's own exceptions, so the tab shows them as it always has."""
        try:
            change: LockerChange = self.client.post(path, body if body is not None else {}, LockerChange,
                                                    session=admin)
        except ApiError as exc:
            raise desk_error(exc) from None
        except HubUnreachable as exc:
            self._board = None
            raise LockerError(f"{exc}. Check the board before trying again.") from None
        self.last_change = change
        self.apply(change)
        return change

    def _one(self, change: LockerChange) -> Assignment:
        return change.assignments[0]

    # --- desk (staff) ---------------------------------------------------------------------------------------------

    def assign(self, scanned: str, locker: int | None = None) -> Assignment:
        return self._one(self._change("/lockers/assign", {"scanned": scanned, "locker": locker}))

    def exit(self, scanned: str) -> Assignment:
        return self._one(self._change("/lockers/exit", {"scanned": scanned}))

    def release_locker(self, locker: int) -> Assignment:
        return self._one(self._change(f"/lockers/{int(locker)}/release"))

    def add_member(self, enrollment: str, name: str, programme: str) -> str:
        try:
            info: MemberInfo = self.client.post("/members", {"enrollment": enrollment, "name": name,
                                                             "programme": programme}, MemberInfo)
        except ApiError as exc:
            raise desk_error(exc) from None
        return info.enrollment

    def edit_member(self, enrollment: str, name: str, programme: str) -> None:
        try:
            self.client.call("PUT", f"/members/{_path(enrollment)}", MemberInfo,
                             body={"name": name, "programme": programme})
        except ApiError as exc:
            raise desk_error(exc) from None

    def preview_roster(self, text: str) -> RosterPreview:
        preview: RosterPreview = self.client.post("/roster/preview", {"text": text}, RosterPreview)
        return preview

    def import_roster(self, preview: RosterPreview) -> int:
        imported: RosterImported = self.client.post("/roster/import", {
            "rows": to_wire(list(preview.new)), "known": len(preview.known), "refused": len(preview.errors)},
            RosterImported)
        return imported.added

    # --- admin (an operator's session) ----------------------------------------------------------------------------

    def force_exit(self, locker: int, reason: str) -> Assignment:
        return self._one(self._change(f"/lockers/{int(locker)}/force-release", {"reason": reason}, admin=True))

    def release_overdue(self, reason: str) -> list[Assignment]:
        return self._change("/lockers/release-overdue", {"reason": reason}, admin=True).assignments

    def set_out_of_order(self, locker: int, out: bool, note: str) -> None:
        self._change(f"/lockers/{int(locker)}/out-of-order", {"out": out, "note": note}, admin=True)

    # --- reading --------------------------------------------------------------------------------------------------

    def board(self) -> list[LockerState]:
        if self._board is None:
            board: list[LockerState] = self.client.get("/lockers", list[LockerState])
            self._board = {state.number: state for state in board}
            self._seq = {}
            self.full_reads += 1
        return list(self._board.values())  # in locker order: a replaced locker keeps its place

    def counts(self) -> LockerCounts:
        counts: LockerCounts = self.client.get("/lockers/counts", LockerCounts)
        return counts

    def member(self, enrollment: str) -> MemberInfo | None:
        from kiosk.protocol.api import ApiError

        try:
            info: MemberInfo = self.client.get(f"/members/{_path(enrollment)}", MemberInfo)
        except ApiError as exc:
            if exc.status in (400, 404):
                return None
            raise
        return info

    def members(self, search: str = "") -> list[MemberInfo]:
        members: list[MemberInfo] = self.client.get("/members", list[MemberInfo], search=search)
        return members

    def member_count(self) -> int:
        count: int = self.client.get("/members/count", int)
        return count

    def history(self, wanted: HistoryFilter) -> tuple[list[HistoryRow], bool]:
        page: HistoryPage = self.client.get("/lockers/history", HistoryPage, **_history_query(wanted))
        return page.rows, page.more

    def export_history(self, wanted: HistoryFilter, out: TextIO, progress: Any) -> int:
        headers = self.client.download("/lockers/history.csv", chunks_to(out), **_history_query(wanted))
        rows = int(headers.get("X-Rows", "0") or 0)
        progress(rows)
        return rows

    def statistics(self, since: float, until: float) -> LockerStatistics:
        figures: LockerStatistics = self.client.get("/lockers/statistics", LockerStatistics, since=since,
                                                    until=until)
        return figures

    def export_statistics(self, figures: LockerStatistics, out: TextIO) -> None:
        write_locker_statistics(figures, out)


def desk_error(exc: ApiError) -> Exception:
    """The hub's refusal as the exception the desk's own store raises (the tabs catch those)."""
    if exc.error == "already_assigned" and isinstance(exc.extra.get("locker"), int):
        return AlreadyAssigned(exc.message, exc.extra["locker"])
    if exc.error == "raced":
        return LockerRace(exc.message)
    if exc.status in (401, 403):
        return PermissionError(exc.message)
    if exc.status >= 500:
        return LockerError(f"The hub could not do this ({exc.message}).")
    return LockerError(exc.message)


def _path(text: str) -> str:
    from urllib.parse import quote

    return quote(text.strip(), safe="")


def _history_query(wanted: HistoryFilter) -> dict[str, Any]:
    return {"member": wanted.member, "locker": wanted.locker, "since": wanted.since, "until": wanted.until}
