"""The admin tab's door: sign in, or on first start make the first admin account.

Big fields and buttons for a touch screen; Enter moves on / submits. The page never says whether the name or the
password was wrong (kiosk.store.operators answers the same for both).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.core.operators import MIN_PASSWORD
from kiosk.ui.admin_session import AdminSession

FIRST_START = ("<h2>Create the first admin account</h2>"
               "<p>Nobody can administer this kiosk yet. The account you make now can add devices, manage tokens "
               "and firmware, and add other operators (staff or admin). Passwords need at least "
               f"{MIN_PASSWORD} characters. On a machine without a screen: "
               "<code>kiosk operator add NAME --admin</code>.</p>")
SIGN_IN = "<h2>Admin sign-in</h2><p>Devices, tokens, commands, firmware, operators and the audit log.</p>"


class SignInPage(QWidget):
    def __init__(self, session: AdminSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.first = False
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.intro.setTextFormat(Qt.TextFormat.RichText)
        self.name = self._field("name")
        self.password = self._field("password", secret=True)
        self.again = self._field("the same password again", secret=True)
        self.error = QLabel("", self)
        self.error.setObjectName("signInError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e; font-weight: bold")
        self.submit = QPushButton("Sign in", self)
        self.submit.setMinimumHeight(48)
        self.submit.setDefault(True)
        self.submit.clicked.connect(self._submit)
        self.name.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self._password_entered)
        self.again.returnPressed.connect(self._submit)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Password", self.password)
        self.again_label = QLabel("Again", self)
        form.addRow(self.again_label, self.again)
        column = QVBoxLayout()
        column.addWidget(self.intro)
        column.addLayout(form)
        column.addWidget(self.error)
        column.addWidget(self.submit)
        box = QWidget(self)
        box.setLayout(column)
        box.setFixedWidth(520)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        session.refused.connect(self._refused)
        session.busyChanged.connect(self._busy)
        self.prepare()

    def _field(self, placeholder: str, secret: bool = False) -> QLineEdit:
        field = QLineEdit(self)
        field.setPlaceholderText(placeholder)
        field.setMinimumHeight(44)
        field.setMaxLength(200)
        if secret:
            field.setEchoMode(QLineEdit.EchoMode.Password)
        return field

    def prepare(self) -> None:
        """Show the right form (first admin or sign in), empty, with the focus in the name field."""
        self.first = self.session.needs_first_admin()
        self.intro.setText(FIRST_START if self.first else SIGN_IN)
        self.again.setVisible(self.first)
        self.again_label.setVisible(self.first)
        self.submit.setText("Create admin account and sign in" if self.first else "Sign in")
        for field in (self.password, self.again):
            field.clear()
        if self.session.locked_because == "idle":
            minutes = self.session.idle_ms / 60_000
            self.error.setText(f"Locked after {minutes:g} min without input. Sign in again.")
        else:
            self.error.clear()
        self.name.setFocus()

    def _password_entered(self) -> None:
        if self.first:
            self.again.setFocus()
        else:
            self._submit()

    def _submit(self) -> None:
        if not self.submit.isEnabled():
            return
        name, password = self.name.text().strip(), self.password.text()
        if not name or not password:
            self.error.setText("Enter a name and a password.")
            return
        if self.first:
            if password != self.again.text():
                self.error.setText("The two passwords differ.")
                return
            self.session.create_first_admin(name, password)
        else:
            self.session.sign_in(name, password)
        self.error.setText("Checking…")

    def _refused(self, why: str) -> None:
        self.error.setText(why)
        self.password.clear()
        self.again.clear()
        self.password.setFocus()

    def _busy(self, busy: bool) -> None:
        self.submit.setEnabled(not busy)
