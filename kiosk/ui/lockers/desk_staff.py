"""Who is at the desk: a staff member signs in, and the desk's changes (lockers, members, rosters) go into the audit
log under their name instead of "front desk".

Signing in is optional: without it the desk works as it always has, as the front desk. The sign-in is for the desk
only (an admin who signs in here acts as staff; admin actions keep asking for an admin) and ends by itself after
`desk.signin_idle_s` without a desk change (kiosk.client.session.DeskSignIn); the line then says so, and the desk
goes on as the front desk.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.operators import SignInRefused
from kiosk.ui.widgets.sign_in_fields import SignInFields

CHECK_MS = 30_000  # how often the line looks whether the sign-in ran out


class DeskSignInDialog(QDialog):
    def __init__(self, signin: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.signin = signin
        self.setWindowTitle("Sign in at the desk")
        self.setModal(True)
        self.setMinimumWidth(420)
        intro = QLabel("Sign in with your staff account: what you do at the desk (lockers, members, rosters) is "
                       "then recorded under your name in the audit log. You are signed out by yourself after a time "
                       "without a desk action, and with Sign out.", self)
        intro.setWordWrap(True)
        fields = SignInFields(self, "deskSignInError")
        self.name, self.password, self.error, form = fields.name, fields.password, fields.error, fields.form
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = buttons.addButton("&Sign in", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setMinimumHeight(44)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        # Enter anywhere presses Sign in (the button box's default); in the name field it moves on to the password
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.name.setFocus()

    def submit(self) -> None:
        name, password = self.name.text().strip(), self.password.text()
        if name and not password and self.name.hasFocus():
            self.password.setFocus()
            return
        if not name or not password:
            self.error.setText("Enter your name and your password.")
            return
        try:
            self.signin.sign_in(name, password)
        except SignInRefused as exc:
            self.error.setText(str(exc))
            self.password.clear()
            self.password.setFocus()
            return
        except ConnectionError as exc:
            self.error.setText(f"The hub cannot be reached: {exc}")
            return
        self.accept()


def idle_words(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60 or minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"


class DeskStaff(QWidget):
    """The line above the scan field: "At the desk: Priya" with Sign out, or "At the desk: front desk" with Sign in.

    Signals:
        changed(str): who is at the desk now ("" for the front desk); `ended` says why a sign-in ran out.
    """

    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, clock: Any = time.monotonic) -> None:
        super().__init__(parent)
        self.signin: Any = None  # kiosk.client.session.DeskSignIn
        self.dialog: DeskSignInDialog | None = None
        self.ended = ""
        self._clock = clock
        self.label = QLabel("", self)
        self.label.setObjectName("deskStaff")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.button = QPushButton("", self)
        self.button.setObjectName("deskStaffButton")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the scan field keeps the focus
        self.button.setMinimumHeight(40)
        self.button.clicked.connect(self._clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self.setVisible(False)  # until a hub that knows desk sign-ins is attached

    def attach(self, signin: Any) -> None:
        self.signin = signin
        self.setVisible(signin is not None)
        if signin is not None:
            self._timer.start()
        self._show()

    @property
    def who(self) -> str:
        return (self.signin.who or "") if self.signin is not None else ""

    def check(self) -> None:
        """After each desk action and every 30 s: a sign-in that ran out (here or on the hub) is said."""
        if self.signin is None:
            return
        why = self.signin.ended() or self.signin.expire_idle()
        if why:
            self.ended = why
        self._show()  # also a sign-in or sign-out made elsewhere on this client
        if why:
            self.changed.emit("")

    def _show(self) -> None:
        who = self.who
        if who:
            self.label.setText(f"At the desk: {who}")
            self.button.setText("Sign o&ut")
            self.button.setToolTip(f"Sign out: the desk goes on as the front desk (by itself after "
                                   f"{idle_words(self.signin.idle_s)} without a desk action)")
        else:
            text = "At the desk: front desk"
            if self.ended:
                text += f" ({self.ended})"
            self.label.setText(text)
            self.button.setText("Staff sign-&in…")
            self.button.setToolTip("Sign in with your staff account: desk actions are recorded under your name")

    def _clicked(self) -> None:
        if self.signin is None:
            return
        if self.who:
            self.signin.sign_out()
            self.ended = ""
            self._show()
            self.changed.emit("")
            return
        self.dialog = DeskSignInDialog(self.signin, self.window())
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.accepted.connect(self._signed_in)
        self.dialog.open()

    def _signed_in(self) -> None:
        self.ended = ""
        self._show()
        self.changed.emit(self.who)
