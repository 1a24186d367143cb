"""A remote station: a second desk's window following a hub elsewhere through its API (kiosk --station --hub URL).

It shows the Stalls tab (tiles, details, figures, the admin's restroom edits), the Lockers tab (the desk, who holds
a locker, members, history, figures) and the Energy tab (ports, live and history graphs, alerts) over kiosk.client:
operations and readings are API calls, another station's change arrives on the event stream and is applied. Admin
actions (editing restrooms, a forced release, out of order) ask for an operator's sign-in, which opens a session on
the hub; the idle lock and signing out end it there too. A banner across the top says at once when the hub cannot
be reached, and the window reattaches by itself when it is back (a restarted hub: everything is read again).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QStatusBar, QTabWidget, QWidget

from kiosk.ui.admin_session import AdminSession
from kiosk.ui.energy.energy_view import EnergyView
from kiosk.ui.lockers.lockers_view import LockersView
from kiosk.ui.operator_gate import OperatorGate
from kiosk.ui.stalls.stalls_view import StallsView
from kiosk.ui.widgets.card_reader import CardReader
from kiosk.ui.widgets.hub_banner import HubBanner, over

log = logging.getLogger(__name__)


class StationEvents(QObject):
    """The event stream's thread hands its events to the GUI thread through these (queued) signals."""

    event = Signal(dict)
    state = Signal(bool, str)


class StationWindow(QMainWindow):
    def __init__(self, hub_url: str, lockers_ops: Any, operators: Any, idle_lock_s: float = 300.0,
                 parent: QWidget | None = None, energy_ops: Any = None, stall_ops: Any = None,
                 tiles_of: Any = None, reader: tuple[float, int, str] = (50.0, 4, "")) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Front Desk Kiosk: station of {hub_url}")
        self.resize(1100, 700)
        self.hub_url = hub_url
        self.ops = lockers_ops
        self.admin_session = AdminSession(idle_lock_s, self)
        self.admin_session.directory = operators
        self.admin_gate = OperatorGate(self.admin_session)
        self.lockers = LockersView(self)
        self.energy_ops = energy_ops
        self.energy = EnergyView(self) if energy_ops is not None else None
        self.stall_ops = stall_ops
        self._tiles_of = tiles_of  # kiosk.client.stalls.tiles_of: a `stalls` event's tiles as (place, view) pairs
        self.stalls = StallsView(self) if stall_ops is not None else None
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        if self.stalls is not None:
            self.tabs.addTab(self.stalls, "&Stalls")
        self.tabs.addTab(self.lockers, "&Lockers")
        if self.energy is not None:
            self.tabs.addTab(self.energy, "&Energy")
        self.banner = HubBanner(self)  # across the top while the hub cannot be reached
        self.setCentralWidget(over(self.banner, self.tabs, self))
        self.connection = QLabel(f"Connecting to the hub at {hub_url}…", self)
        self.connection.setObjectName("stationConnection")
        self.connection.setTextFormat(Qt.TextFormat.PlainText)
        bar = QStatusBar(self)
        bar.addWidget(self.connection, 1)
        self.setStatusBar(bar)
        max_gap_ms, min_chars, device = reader
        self.reader = CardReader(self, max_gap_ms, min_chars)  # a swipe on any tab goes to the Lockers desk
        self.reader.leave_to = lambda widget: widget is self.lockers.desk.scan
        self.reader.swiped.connect(self.card_swiped)
        self.reader_device = None
        if device:  # a reader read as its own input device (desk.reader_device)
            from kiosk.ui.widgets.reader_device import read_cards_from

            self.reader_device = read_cards_from(device, min_chars, self, bar)
            self.reader_device.swiped.connect(self.card_swiped, Qt.ConnectionType.QueuedConnection)
        from kiosk.ui.keyboard import PURPOSES, Mnemonics, TabWalker

        self.keys = TabWalker(self, self.tabs, PURPOSES)
        self.mnemonics = Mnemonics(self.tabs)
        self.events = StationEvents(self)
        self.events.event.connect(self._event, Qt.ConnectionType.QueuedConnection)
        self.events.state.connect(self._state, Qt.ConnectionType.QueuedConnection)
        self.hub_id: str | None = None
        self.connected = False
        self.refreshes = 0
        self.allow_close = True

    def card_swiped(self, text: str) -> None:
        self.tabs.setCurrentWidget(self.lockers)
        self.lockers.take_swipe(text)

    def _state(self, connected: bool, detail: str) -> None:
        self.connected = connected
        if connected:
            self.connection.setText(f"Connected to the hub at {self.hub_url}.")
            self.connection.setStyleSheet("")
            self.banner.hide()
        else:
            self.connection.setText(f"The hub at {self.hub_url} cannot be reached: {detail}. Trying again…")
            self.connection.setStyleSheet("color: #b3261e; font-weight: bold")
            self.banner.say(f"No connection to the hub: {detail}. Scans are not recorded until it is back; "
                            "this desk reconnects by itself.")

    def _event(self, event: dict[str, Any]) -> None:
        topic = event.get("topic")
        if topic == "hello":
            data = event.get("data") or {}
            first = self.lockers.ops is None
            if first:
                self.lockers.attach(self.ops, self.admin_gate)
                if self.energy is not None:
                    self.energy.attach(self.energy_ops)
                if self.stalls is not None:
                    self.stalls.attach(self.stall_ops, self.admin_gate)
            elif data.get("hub") != self.hub_id:
                log.info("the hub restarted: reading everything again")
                self.admin_session.lock("the hub restarted")
            self.hub_id = data.get("hub")
            self.ops.invalidate()  # what happened while the stream was away is read in full
            self._refresh()
            self._read_tiles()
        elif topic == "lockers":
            self.ops.event(event.get("data"), int(event.get("seq") or 0))
            self._refresh()
        elif topic == "stalls" and self.stalls is not None and self._tiles_of is not None:
            data = event.get("data") or {}
            self.stalls.update_stalls(self._tiles_of(data.get("tiles") or []), bool(data.get("complete")))
        elif topic == "notifications" and self.energy is not None and self.energy.ops is not None:
            try:
                self.energy.refresh_alerts()
            except ConnectionError as exc:
                self._state(False, str(exc))

    def _refresh(self) -> None:
        try:
            self.lockers.refresh()
            self.refreshes += 1
        except ConnectionError as exc:
            self._state(False, str(exc))

    def _read_tiles(self) -> None:
        if self.stalls is None:
            return
        try:
            self.stalls.update_stalls(self.stall_ops.tiles(), True)
        except ConnectionError as exc:
            self._state(False, str(exc))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.admin_session.lock("window closed")
        super().closeEvent(event)
