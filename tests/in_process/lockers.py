"""What the Lockers tab may ask of the hub: the locker desk, with the operator filled in and the hub told of changes.

Operations are small transactions on the GUI thread (bench/lockers.py: scan to confirmed p99 a few ms with 1,000
lockers and a million history rows). The rules and the rights are the desk's (kiosk.store.lockers): this facade only
says who is acting: the front desk acts as staff; admin actions act as the admin signed in (kiosk.ui.operator_gate),
or, where a caller passes nothing, as "admin (PIN)".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from kiosk.core.lockers import RosterPreview, preview_roster
from kiosk.store.lockers import (
    Assignment,
    HistoryFilter,
    HistoryRow,
    LockerDesk,
    LockerState,
    LockerStatistics,
    MemberInfo,
    Operator,
    Role,
)

DESK = Operator("front desk", Role.STAFF)
ADMIN = Operator("admin (PIN)", Role.ADMIN)


class LockerOperations:
    def __init__(self, desk: LockerDesk, changed: Any = lambda: None,
                 who: Callable[[], Operator | None] = lambda: ADMIN) -> None:
        self.desk = desk
        self._changed = changed  # tells the hub (wall display counts) after each change
        self._who = who  # the admin for admin actions (the operator signed in, kiosk.ui.operator_gate)

    @classmethod
    def for_hub(cls, hub: Any, who: Callable[[], Operator | None] = lambda: ADMIN) -> LockerOperations:
        return cls(hub.lockers, hub.locker_service.changed, who)

    def _admin(self) -> Operator:
        operator = self._who()
        if operator is None:
            raise PermissionError("Sign in as an admin first (the admin session has locked itself).")
        return operator  # the desk checks the role

    def _done(self, result: Any) -> Any:
        self._changed()
        return result

    # --- desk (staff) ---------------------------------------------------------------------------------------------

    def assign(self, scanned: str, locker: int | None = None) -> Assignment:
        return self._done(self.desk.assign(scanned, DESK, locker))

    def exit(self, scanned: str) -> Assignment:
        return self._done(self.desk.exit(scanned, DESK))

    def release_locker(self, locker: int) -> Assignment:
        return self._done(self.desk.release_locker(locker, DESK))

    def add_member(self, enrollment: str, name: str, programme: str) -> str:
        return self._done(self.desk.add_member(enrollment, name, programme, DESK))

    def edit_member(self, enrollment: str, name: str, programme: str) -> None:
        self._done(self.desk.edit_member(enrollment, name, programme, DESK))

    def preview_roster(self, text: str) -> RosterPreview:
        return preview_roster(text, self.desk.enrollments())

    def import_roster(self, preview: RosterPreview) -> int:
        return self._done(self.desk.import_roster(preview, DESK))

    # --- admin (after a sign-in, or the PIN) ----------------------------------------------------------------------

    def force_exit(self, locker: int, reason: str) -> Assignment:
        return self._done(self.desk.force_exit(locker, reason, self._admin()))

    def release_overdue(self, reason: str) -> list[Assignment]:
        return self._done(self.desk.release_overdue(reason, self._admin()))

    def set_out_of_order(self, locker: int, out: bool, note: str) -> None:
        self._done(self.desk.set_out_of_order(locker, out, note, self._admin()))

    # --- reading --------------------------------------------------------------------------------------------------

    def board(self) -> list[LockerState]:
        return self.desk.board()

    def member(self, enrollment: str) -> MemberInfo | None:
        return self.desk.member(enrollment)

    def members(self, search: str = "") -> list[MemberInfo]:
        return self.desk.members(search)

    def member_count(self) -> int:
        return self.desk.member_count()

    def history(self, wanted: HistoryFilter) -> tuple[list[HistoryRow], bool]:
        return self.desk.history_rows(wanted)

    def export_history(self, wanted: HistoryFilter, out: TextIO, progress: Any) -> int:
        return self.desk.export_history(wanted, out, progress)

    def statistics(self, since: float, until: float) -> LockerStatistics:
        return self.desk.statistics(since, until)

    def export_statistics(self, figures: LockerStatistics, out: TextIO) -> None:
        self.desk.export_statistics(figures, out)
