"""Who is signed in to the admin tab, and the idle lock.

Passwords are checked off the GUI thread (argon2id costs 19 MiB and ~70 ms per guess: kiosk.core.pin). While someone
is signed in, an application-wide event filter watches for input (keys, clicks, touches, the wheel); after
`idle_s` without any while the admin tab is on screen, the session locks itself and the tab shows the sign-in page.

Signals:
    changed(object): the signed-in Operator, or None after a lock or sign-out.
    refused(str): a sign-in failed; the text says why in words for the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from kiosk.core.operators import Operator, Role, SignInRefused
from kiosk.ui.widgets.background import Background

INPUT_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel,
                          QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate})


class AdminSession(QObject):
    changed = Signal(object)
    refused = Signal(str)

    def __init__(self, idle_s: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.directory: Any = None  # kiosk.store.operators.OperatorDirectory, once the hub runs
        self._operator: Operator | None = None
        self._background = Background(self)
        self.busyChanged = self._background.busyChanged
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(int(idle_s * 1000))
        self._idle.timeout.connect(lambda: self.lock("idle"))
        self.locked_because = ""
        # True while the admin signed in for one action outside the Admin tab (a force release): that session ends
        # when the action is done, and it never unlocks the Admin tab.
        self.one_action = False
        self._for_one_action = False  # what the sign-in under way is for
        # Input counts only while this says so (the admin tab is on screen): the front desk scanning cards in
        # another tab must not keep an admin session open.
        self.watching: Callable[[], bool] = lambda: True

    @property
    def operator(self) -> Operator | None:
        return self._operator

    @property
    def idle_ms(self) -> int:
        return self._idle.interval()

    def set_idle(self, seconds: float) -> None:
        self._idle.setInterval(int(seconds * 1000))
        if self._operator is not None:
            self._idle.start()

    def needs_first_admin(self) -> bool:
        return self.directory is not None and self.directory.count() == 0

    def sign_in(self, name: str, password: str, one_action: bool = False) -> None:
        """Checks off the GUI thread; `changed` or `refused` follows. `one_action`: for one action outside the
        Admin tab (kiosk.ui.operator_gate), which ends the session when it is done."""
        directory = self.directory
        self._for_one_action = one_action

        def failed(error: Exception) -> None:
            self.refused.emit(str(error) if isinstance(error, (SignInRefused, PermissionError, ValueError))
                              else "The sign-in could not be checked; see the log.")

        self._background.run(lambda: directory.sign_in(name, password), self._signed_in, failed)

    def create_first_admin(self, name: str, password: str) -> None:
        """First start: the first account, an admin, made without anyone signed in; then signed in."""
        directory = self.directory

        def failed(error: Exception) -> None:
            self.refused.emit(str(error) if isinstance(error, (PermissionError, ValueError))
                              else "The account could not be made; see the log.")

        self._background.run(lambda: directory.add(name, Role.ADMIN, password, None), self._signed_in, failed)

    def _end_remote(self) -> None:
        """A station's directory (kiosk.client.session.RemoteOperators) ends the hub's session too."""
        sign_out = getattr(self.directory, "sign_out", None)
        if sign_out is not None:
            sign_out()

    def _signed_in(self, operator: Operator) -> None:
        if operator.role is not Role.ADMIN:
            self._end_remote()
            self.refused.emit(f"{operator.name} is a staff account: the admin tab needs an admin.")
            return
        self._operator = operator
        self.one_action = self._for_one_action
        self.locked_because = ""
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._idle.start()
        self.changed.emit(operator)

    def lock(self, why: str = "signed out") -> None:
        if self._operator is None:
            return
        self._operator = None
        self.one_action = False
        self.locked_because = why
        self._idle.stop()
        self._end_remote()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.changed.emit(None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS and self.watching():
            self._idle.start()  # restart: any input keeps the session open
        return False

    def wait(self) -> None:
        self._background.wait()
