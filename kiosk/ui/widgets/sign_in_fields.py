"""The name and password fields every sign-in dialog has (the admin's, the desk's), with the line for why not."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget


class SignInFields:
    """Touch-sized name and password fields (the password hidden), a form holding them and a bold red error line."""

    def __init__(self, parent: QWidget, error_name: str = "") -> None:
        self.name = QLineEdit(parent)
        self.password = QLineEdit(parent)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        for field in (self.name, self.password):
            field.setMinimumHeight(44)
            field.setMaxLength(200)
        self.error = QLabel("", parent)
        self.error.setWordWrap(True)
        if error_name:
            self.error.setObjectName(error_name)
        self.error.setStyleSheet("color: #b3261e; font-weight: bold")
        self.form = QFormLayout()
        self.form.addRow("&Name", self.name)
        self.form.addRow("&Password", self.password)

    def set_enabled(self, enabled: bool) -> None:
        for field in (self.name, self.password):
            field.setEnabled(enabled)
