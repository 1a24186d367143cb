"""Main window: composes the tabs and the status bar; each tab lives in its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QPaintEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget, QWidget

from kiosk.ui.admin_session import AdminSession
from kiosk.ui.bridge import Bridge
from kiosk.ui.close_guard import CloseGuard
from kiosk.ui.operator_gate import OperatorGate
from kiosk.ui.stalls.stalls_view import StallsView
from kiosk.ui.widgets.hub_banner import HubBanner, over
from kiosk.ui.widgets.status_bar import KioskStatusBar

if TYPE_CHECKING:
    from kiosk.ui.admin.admin_view import AdminView
    from kiosk.ui.admin.devices_model import DevicesModel
    from kiosk.ui.admin.devices_view import DevicesView
    from kiosk.ui.energy.energy_view import EnergyView
    from kiosk.ui.lockers.lockers_view import LockersView

LATER_TABS = ("Lockers", "Energy", "Admin")


class MainWindow(QMainWindow):
    """Signals:
        demoRequested(): forwarded from the device list's empty state (Admin tab).
        firstPainted(): the window's first paint is on screen (start-up is measured to here). With `later_tabs`,
            the other tabs are built once its slots have run: a slot that needs them calls `complete()` first.
        closed(): the window closed for good (with a close guard: the user chose to stop the hub, or it was never
            running); the application quits.
    """

    demoRequested = Signal()
    firstPainted = Signal()
    closed = Signal()

    def __init__(self, bridge: Bridge, database: str, parent: QWidget | None = None,
                 idle_lock_s: float = 300.0, later_tabs: bool = False,
                 reader: tuple[float, int, str] = (50.0, 4, "")) -> None:
        """`later_tabs`: paint the Stalls tab first and build the Lockers, Energy and Admin tabs right after the
        first paint (`complete`), so the window appears sooner (bench/startup.py); their titles are there from the
        start, and `complete` runs before anything talks to the hub."""
        super().__init__(parent)
        self.setWindowTitle("Front Desk Kiosk")
        self.bridge = bridge
        self._painted = False
        self.failure_box: QMessageBox | None = None
        self.close_guard: CloseGuard | None = None  # set by the app: closing then asks before stopping the hub
        self.resize(1100, 700)
        self.admin_session = AdminSession(idle_lock_s, self)
        self.admin_gate = OperatorGate(self.admin_session)  # admin actions in the other tabs sign in here
        self.stalls = StallsView(self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.stalls, "Stalls")
        for title in LATER_TABS:
            self.tabs.addTab(QWidget(self.tabs), title)  # its view comes in `complete`
        self.completed = False
        self._reader_settings = reader  # (desk.reader_max_gap_ms, desk.reader_min_chars, desk.reader_device)
        self.banner = HubBanner(self, "&Start the hub")  # while the hub cannot be reached
        self.banner.button.setToolTip("Start the hub on this computer again (the broker, the database, the devices)")
        self.banner.button.clicked.connect(self._start_hub_clicked)
        self.hub_reachable = True  # False while the link to the hub is down (kiosk.ui.hub_link)
        self.hub_starter: Any = None  # set by the app: starts the hub on this machine again (None: not here)
        self.setCentralWidget(over(self.banner, self.tabs, self))
        self.status = KioskStatusBar(database, self)
        self.setStatusBar(self.status)
        bridge.stallsChanged.connect(self.stalls.update_stalls)
        bridge.servicesReady.connect(self.stalls.services_ready)
        bridge.statusChanged.connect(self._show_status)
        bridge.servicesFailed.connect(self._services_failed)
        self._later_tabs = later_tabs
        if not later_tabs:
            self.complete()

    def complete(self) -> None:
        """Build the Lockers, Energy and Admin tabs (at once, or just after the first paint); runs once."""
        if self.completed:
            return
        self.completed = True
        from kiosk.ui.admin.admin_view import AdminView
        from kiosk.ui.admin.devices_model import DevicesModel
        from kiosk.ui.admin.devices_view import DevicesView
        from kiosk.ui.energy.energy_view import EnergyView
        from kiosk.ui.lockers.lockers_view import LockersView

        self.devices_model: DevicesModel = DevicesModel(parent=self)
        self.devices: DevicesView = DevicesView(self.devices_model, self)
        self.devices.hide()  # placed in the Admin tab's Devices page at the first sign-in
        self.admin: AdminView = AdminView(self.admin_session, self.devices_model, self.devices, self)
        self.lockers: LockersView = LockersView(self)
        self.energy: EnergyView = EnergyView(self)
        current = self.tabs.currentIndex()
        for index, (view, title) in enumerate(zip((self.lockers, self.energy, self.admin), LATER_TABS), start=1):
            placeholder = self.tabs.widget(index)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, view, title)
            placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        bridge = self.bridge
        bridge.devicesChanged.connect(self.devices_model.update)
        bridge.devicesRemoved.connect(self.devices_model.remove)
        bridge.servicesReady.connect(self.lockers.services_ready)
        bridge.servicesReady.connect(self.energy.services_ready)
        bridge.lockersChanged.connect(self.lockers.refresh)
        bridge.statusChanged.connect(self.admin.show_status)
        bridge.servicesReady.connect(self.devices.services_ready)
        bridge.servicesReady.connect(self.admin.services_ready)
        self.devices.demoRequested.connect(self.demoRequested)
        from kiosk.ui.widgets.card_reader import CardReader

        max_gap_ms, min_chars, device = self._reader_settings
        self.reader = CardReader(self, max_gap_ms, min_chars)
        self.reader.leave_to = lambda widget: widget is self.lockers.desk.scan
        self.reader.swiped.connect(self.card_swiped)
        self.reader_device = None
        if device:
            from kiosk.ui.widgets.reader_device import read_cards_from

            self.reader_device = read_cards_from(device, min_chars, self, self.status)
            self.reader_device.swiped.connect(self.card_swiped, Qt.ConnectionType.QueuedConnection)
        from kiosk.ui.keyboard import PURPOSES, Mnemonics, TabWalker

        self.keys = TabWalker(self, self.tabs, PURPOSES)
        self.mnemonics = Mnemonics(self.tabs)
        self.mnemonics.refresh()

    def card_swiped(self, text: str) -> None:
        """A card read on any tab: the locker desk comes forward and answers it."""
        self.tabs.setCurrentWidget(self.lockers)
        self.lockers.take_swipe(text)

    def follow(self, link: Any) -> None:
        """Show the state of the link to the hub (kiosk.ui.hub_link.HubLink) and follow its news."""
        link.connectionChanged.connect(self.show_connection)
        link.hubRestarted.connect(lambda: self.admin_session.lock("the hub restarted"))
        link.notificationsChanged.connect(self._alerts_changed)

    def _show_status(self, status: Any) -> None:
        if self.hub_reachable:  # a status drained after the link went down is not current
            self.status.show_status(status)

    def show_connection(self, connected: bool, detail: str) -> None:
        self.hub_reachable = connected
        if connected:
            self.banner.hide()
            self.banner.ready()
            return
        self.banner.button.setVisible(self.hub_starter is not None and self.hub_starter.can_start())
        self.banner.say(f"No connection to the hub: {detail}. Nothing shown here is current and scans are not "
                        "recorded until it is back; this window reconnects by itself.")
        self.status.show_unreachable()

    def _start_hub_clicked(self) -> None:
        if self.hub_starter is None:
            return
        self.banner.busy("Starting the hub…")
        self.hub_starter.start_again()

    def _alerts_changed(self) -> None:
        if self.energy.ops is not None:
            try:
                self.energy.refresh_alerts()
            except ConnectionError as exc:
                self.show_connection(False, str(exc))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self._painted_once)

    def _painted_once(self) -> None:
        # The paint is on screen now: say so first (the start-up time is taken there), build the other tabs after.
        # They used to be built first, so the logged start-up time included them (about 80 ms on this machine).
        self.firstPainted.emit()
        if self._later_tabs:
            self.complete()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_guard is not None and not self.close_guard.may_close():
            event.ignore()
            return
        super().closeEvent(event)
        self.closed.emit()

    def _services_failed(self, reason: str) -> None:
        self.banner.ready()
        if self.close_guard is not None:
            self.close_guard.hosting = False
        self.status.show_failure(reason)
        self.failure_box = QMessageBox(QMessageBox.Icon.Critical, "Front Desk Kiosk",
                                       "The kiosk's services could not start:\n\n" + reason +
                                       "\n\nCheck that the broker port is free and the data folder is writable; "
                                       "`kiosk config show` prints the settings in use.", parent=self)
        self.failure_box.open()  # window-modal, without a nested event loop that would stall the window
