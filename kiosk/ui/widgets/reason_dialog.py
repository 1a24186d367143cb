"""Asks why (a forced release, releasing every overdue locker, a locker out of order): the text goes to the audit log.

Window-modal and opened with `open()`, never a nested event loop. OK stays disabled until a reason is typed when one
is required.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget


class ReasonDialog(QDialog):
    def __init__(self, title: str, question: str, action: str, parent: QWidget | None = None,
                 required: bool = True, placeholder: str = "reason (goes to the audit log)") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self._required = required
        label = QLabel(question, self)
        label.setWordWrap(True)
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText(placeholder)
        self.reason.setMinimumWidth(420)
        self.reason.setMaxLength(200)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.reason)
        layout.addWidget(self.buttons)
        self._check()
        self.reason.setFocus()

    def _check(self) -> None:
        self.ok.setEnabled(bool(self.reason.text().strip()) or not self._required)

    def accept(self) -> None:
        if self.ok.isEnabled():
            super().accept()


def ask_reason(parent: QWidget | None, title: str, question: str, action: str, then: Callable[[str], None],
               required: bool = True, placeholder: str = "reason (goes to the audit log)") -> ReasonDialog:
    dialog = ReasonDialog(title, question, action, parent, required, placeholder)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(lambda: then(dialog.reason.text().strip()))
    dialog.open()
    return dialog
