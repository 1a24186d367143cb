"""The Lockers tab: the desk (scan field, answer, map), who has a locker now, members, history and figures.

Every view follows one board (kiosk.store.lockers.LockerState list) read in one query: after any change made here,
after another station's change (the bridge's lockersChanged), and every 15 s for lockers turning overdue. Pages that
are not visible are marked stale and read when shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from kiosk.core.lockers import count_statuses
from kiosk.ui.lockers.locker_desk import DeskPage, counts_text
from kiosk.ui.lockers.locker_figures import FiguresPage
from kiosk.ui.lockers.locker_members import MembersPage
from kiosk.ui.lockers.locker_pages import AssignedPage, HistoryPage

RECHECK_MS = 15_000


class LockersView(QWidget):
    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.pin: Any = None
        self._clock = clock
        self.board: list = []
        # Set by the composition root: returns (operations, admin PIN) once the hub runs.
        self.provider: Callable[[], tuple[Any, Any] | None] = lambda: None
        self.desk = DeskPage(self, clock)
        self.assigned = AssignedPage(self, clock)
        self.members = MembersPage(self)
        self.history = HistoryPage(self)
        self.figures = FiguresPage(self, clock)
        self.pages = QTabWidget(self)
        self.pages.setObjectName("lockerPages")
        self.pages.addTab(self.desk, "Desk")
        self.pages.addTab(self.assigned, "Assigned now")
        self.pages.addTab(self.members, "Members")
        self.pages.addTab(self.history, "History")
        self.pages.addTab(self.figures, "Figures")
        self.pages.currentChanged.connect(self._page_shown)
        self.waiting = QLabel("Waiting for the hub's services…", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.waiting)
        layout.addWidget(self.pages, 1)
        for page in (self.desk, self.assigned, self.members):
            page.changed.connect(self.refresh)
        self.desk.addMemberRequested.connect(self._add_from_desk)
        self._recheck = QTimer(self)
        self._recheck.setInterval(RECHECK_MS)
        self._recheck.timeout.connect(self.recheck)
        self._recheck.start()

    def services_ready(self) -> None:
        """Connected to the bridge's servicesReady: runs on the GUI thread."""
        services = self.provider()
        if services is not None:
            self.attach(*services)

    def attach(self, operations: Any, pin: Any) -> None:
        self.ops, self.pin = operations, pin
        self.waiting.hide()
        self.desk.attach(operations, pin)
        self.assigned.attach(operations, pin)
        self.members.attach(operations)
        self.history.attach(operations)
        self.figures.attach(operations)
        self.refresh()

    def take_swipe(self, text: str) -> None:
        """A card read anywhere in the window (kiosk.ui.widgets.card_reader): the Desk page answers it."""
        self.pages.setCurrentWidget(self.desk)
        self.desk.scan.setText(text)
        self.desk.scan_entered()
        self.desk.scan.setFocus()

    def refresh(self) -> None:
        """Read the board once and show it everywhere (after a change here or elsewhere)."""
        if self.ops is None:
            return
        self.board = self.ops.board()
        counts = count_statuses(s.status(self._clock()) for s in self.board)
        self.desk.set_board(self.board, counts)
        self.setToolTip(counts_text(counts))
        for page in (self.assigned, self.members, self.history, self.figures):
            page.stale = True  # read again when shown (or now, if it is the page on screen)
        self._page_shown(self.pages.currentIndex())

    def recheck(self) -> None:
        """Lockers turn overdue with time, without any event."""
        if self.ops is not None and self.desk.map.recheck(self._clock()):
            self.refresh()

    def _page_shown(self, index: int) -> None:
        page = self.pages.widget(index)
        if not getattr(page, "stale", False):
            return
        if page is self.assigned:
            self.assigned.set_board(self.board)
        elif page is self.history:
            self.history.search()
        else:
            page.refresh()

    def _add_from_desk(self, enrollment: str) -> None:
        dialog = self.members.open_add(enrollment)
        dialog.saved.connect(self.desk.member_added)
        self.desk.dialog = dialog
        dialog.finished.connect(lambda *_: self.desk.scan.setFocus())
