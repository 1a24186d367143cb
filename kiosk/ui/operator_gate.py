"""The hub's door for admin actions outside the Admin tab (editing restrooms, a board's Wi-Fi reset, forcing lockers
free): the admin signed in to the admin session, or a sign-in asked on the spot. It replaces the machine's admin PIN
on the hub (the wall display, which has no database, keeps its PIN), so the audit log names the person.

`ask` has the shape of kiosk.ui.widgets.pin_dialog.ask_admin's PIN path: the action runs once an admin is known.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.operators import Operator
from kiosk.ui.admin_session import AdminSession
from kiosk.ui.widgets.sign_in_fields import SignInFields


class SignInDialog(QDialog):
    def __init__(self, session: AdminSession, purpose: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Admin sign-in")
        self.setModal(True)
        self.setMinimumWidth(440)
        first = session.needs_first_admin()
        intro = QLabel(("No admin account exists yet: make the first one in the Admin tab (or with "
                        "<code>kiosk operator add NAME --admin</code>), then " + purpose + ".") if first
                       else f"Sign in as an admin to {purpose}.", self)
        intro.setWordWrap(True)
        fields = SignInFields(self)
        fields.set_enabled(not first)
        self.name, self.password, self.error, form = fields.name, fields.password, fields.error, fields.form
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.addButton("Sign in", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setMinimumHeight(44)
        self.ok.setEnabled(not first)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        self.name.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self._submit)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        session.changed.connect(self._changed)
        session.refused.connect(self._refused)
        self.name.setFocus()

    def _submit(self) -> None:
        if not self.ok.isEnabled():
            return
        if not self.name.text().strip() or not self.password.text():
            self.error.setText("Enter a name and a password.")
            return
        self.ok.setEnabled(False)
        self.error.setText("Checking…")
        self.session.sign_in(self.name.text().strip(), self.password.text(), one_action=True)

    def _changed(self, operator: Operator | None) -> None:
        if operator is not None and self.isVisible():
            self.accept()

    def _refused(self, why: str) -> None:
        if self.isVisible():
            self.ok.setEnabled(True)
            self.error.setText(why)
            self.password.clear()
            self.password.setFocus()

    def done(self, result: int) -> None:
        self.session.changed.disconnect(self._changed)
        self.session.refused.disconnect(self._refused)
        self.password.clear()
        super().done(result)


class OperatorGate:
    def __init__(self, session: AdminSession) -> None:
        self.session = session

    def who(self) -> Operator | None:
        """The admin acting now (None: nobody signed in, or the session locked itself)."""
        return self.session.operator

    def ask(self, purpose: str, parent: QWidget | None, then: Callable[[], None]) -> SignInDialog | None:
        """Run `then` once an admin is known: at once (on the next turn of the event loop) if one is signed in,
        else after a sign-in dialog (window-modal, no nested event loop), which is returned."""
        if self.session.operator is not None:
            QTimer.singleShot(0, then)
            return None
        dialog = SignInDialog(self.session, purpose, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(then)
        dialog.accepted.connect(lambda: QTimer.singleShot(0, self._end_when_done))
        dialog.open()
        return dialog

    def _end_when_done(self) -> None:
        """A sign-in for one action ends with it: once the action's own dialogs (the reason for a force release)
        are closed, the session is locked again (the actions run on the GUI thread as those dialogs close)."""
        if not self.session.one_action:
            return  # signed in on the Admin tab meanwhile, or already locked
        modal = QApplication.activeModalWidget()
        if modal is not None and modal.isVisible():
            modal.finished.connect(lambda *_: QTimer.singleShot(0, self._end_when_done))  # type: ignore[attr-defined]
            return
        self.session.lock("the action it was signed in for is done")
