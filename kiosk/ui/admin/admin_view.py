"""The Admin tab: signed-in admins only. Devices (live, with detail and token actions), commands, firmware updates,
notifications, health, run-time settings, operators and the audit log.

Until the hub runs it says so; then it asks for a sign-in (or, on first start, for the first admin account). The
session locks itself after `admin.idle_lock_s` without input on this tab; "Lock now" does it at once.

The pages are built (and their modules imported) at the first sign-in: built with the window they cost the first
paint 130 ms (bench/startup.py: 0.41 -> 0.54 s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from kiosk.ui.admin.admin_signin import SignInPage
from kiosk.ui.admin.devices_model import DevicesModel
from kiosk.ui.admin.devices_view import DevicesView
from kiosk.ui.admin_session import AdminSession

WAITING, SIGN_IN, SIGNED_IN = range(3)


class AdminView(QWidget):
    def __init__(self, session: AdminSession, model: DevicesModel, devices: DevicesView,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.ops: Any = None
        # Set by the composition root: the admin operations once the hub runs (acting as the session's operator).
        self.provider: Callable[[], Any] = lambda: None
        session.watching = self.isVisible
        self.stack = QStackedWidget(self)
        waiting = QLabel("Waiting for the hub's services…", self)
        self.sign_in = SignInPage(session, self)
        self.stack.addWidget(waiting)
        self.stack.addWidget(self.sign_in)
        self._model, self._devices_view = model, devices
        self._built = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)
        session.changed.connect(self._session_changed)

    def _build(self) -> None:
        """The pages, once (at the first sign-in)."""
        if self._built:
            return
        self._built = True
        self.stack.addWidget(self._content(self._model, self._devices_view))
        self._devices_view.show()
        if self.ops is not None:
            for page in self.pages_list():
                page.attach(self.ops)

    def pages_list(self) -> list[Any]:
        return [self.devices, self.commands, self.firmware, self.notifications, self.health, self.settings,
                self.operators, self.audit]

    def _content(self, model: DevicesModel, devices: DevicesView) -> QWidget:
        from kiosk.ui.admin.admin_commands import CommandsPage
        from kiosk.ui.admin.admin_devices import AdminDevicesPage
        from kiosk.ui.admin.admin_firmware import FirmwarePage
        from kiosk.ui.admin.admin_health import HealthPage, NotificationsPage, SettingsPage
        from kiosk.ui.admin.admin_people import AuditPage, OperatorsPage

        page = QWidget(self)
        self.who = QLabel("", page)
        self.lock_button = QPushButton("Loc&k now", page)
        self.lock_button.setMinimumHeight(40)
        self.lock_button.clicked.connect(lambda: self.session.lock("signed out"))
        top = QHBoxLayout()
        top.addWidget(self.who, 1)
        top.addWidget(self.lock_button)
        self.devices = AdminDevicesPage(model, devices, page)
        self.commands = CommandsPage(page)
        self.firmware = FirmwarePage(page)
        self.notifications = NotificationsPage(page)
        self.health = HealthPage(page)
        self.settings = SettingsPage(page)
        self.operators = OperatorsPage(page)
        self.audit = AuditPage(page)
        self.pages = QTabWidget(page)
        self.pages.setObjectName("adminPages")
        self.pages.addTab(self.devices, "Devices")
        self.pages.addTab(self.commands, "Commands")
        self.pages.addTab(self.firmware, "Firmware")
        self.pages.addTab(self.notifications, "Notifications")
        self.pages.addTab(self.health, "Health")
        self.pages.addTab(self.settings, "Settings")
        self.pages.addTab(self.operators, "Operators")
        self.pages.addTab(self.audit, "Audit log")
        self.notifications.countChanged.connect(self._notifications_counted)
        self.settings.changed.connect(self._settings_changed)
        self.devices.commandSent.connect(lambda: self.pages.setCurrentWidget(self.commands))
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        return page

    def services_ready(self) -> None:
        """Connected to the bridge's servicesReady: runs on the GUI thread."""
        operations = self.provider()
        if operations is not None:
            self.attach(operations)

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self.session.directory = operations.directory
        if self._built:
            for page in self.pages_list():
                page.attach(operations)
        self._session_changed(self.session.operator)

    def _session_changed(self, operator: Any) -> None:
        if self.ops is None:
            self.stack.setCurrentIndex(WAITING)
            return
        if operator is None or self.session.one_action:  # signed in for one action elsewhere: not this tab
            self.sign_in.prepare()
            self.stack.setCurrentIndex(SIGN_IN)
            return
        self._build()
        minutes = self.session.idle_ms / 60_000
        self.who.setText(f"Signed in as <b>{operator.name}</b> (admin). This tab locks itself after {minutes:g} min "
                         "without input.")
        self.stack.setCurrentIndex(SIGNED_IN)

    def show_status(self, status: Any) -> None:
        """Connected to the bridge's statusChanged (once a second)."""
        if self._built and self.stack.currentIndex() == SIGNED_IN:
            self.health.show_status(status)

    def _notifications_counted(self, count: int) -> None:
        index = self.pages.indexOf(self.notifications)
        self.pages.setTabText(index, f"Notifications ({count})" if count else "Notifications")

    def _settings_changed(self, changed: dict) -> None:
        if "admin.idle_lock_s" in changed:
            self.session.set_idle(changed["admin.idle_lock_s"])
            self._session_changed(self.session.operator)

    @property
    def showing(self) -> int:
        return self.stack.currentIndex()

    def wait(self) -> None:
        self.session.wait()
        if not self._built:
            return
        self.devices.wait()
        self.commands.wait()
        self.firmware.wait()
        self.notifications.wait()
        self.audit.wait()
