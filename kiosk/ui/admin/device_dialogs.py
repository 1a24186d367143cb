"""Dialogs of the admin's device page: add a device, set a token's expiry, delete a device (history kept or removed).

Window-modal, opened with `open()` (no nested event loop); each validates before it accepts and says why not.
"""

from __future__ import annotations

from datetime import datetime
from datetime import time as day_time

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.devices import KINDS, SCREEN_KINDS

KIND_WORDS = {"stall": "stall sensor", "energy": "energy meter", "esp32": "ESP32 board", "sensor": "other sensor",
              "station": "desk station (a second desk)", "display": "wall display"}


class ExpiryField(QWidget):
    """"Never" or a date (the token stops working at the end of that day)."""

    def __init__(self, parent: QWidget | None = None, expires_at: float | None = None) -> None:
        super().__init__(parent)
        self.limited = QCheckBox("Token expires at the end of", self)
        self.date = QDateEdit(self)
        self.date.setCalendarPopup(True)
        self.date.setMinimumDate(QDate.currentDate())
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.date.setMinimumHeight(40)
        if expires_at is None:
            self.date.setDate(QDate.currentDate().addDays(365))
        else:
            self.limited.setChecked(True)
            self.date.setDate(QDate(*datetime.fromtimestamp(expires_at).timetuple()[:3]))
        self.date.setEnabled(self.limited.isChecked())
        self.limited.toggled.connect(self.date.setEnabled)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.limited)
        layout.addWidget(self.date)

    def value(self) -> float | None:
        if not self.limited.isChecked():
            return None
        chosen = self.date.date()
        end = datetime.combine(datetime(chosen.year(), chosen.month(), chosen.day()).date(), day_time(23, 59, 59))
        return end.timestamp()


class _Dialog(QDialog):
    def __init__(self, title: str, action: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.setMinimumWidth(480)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setMinimumHeight(40)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def show_error(self, text: str) -> None:
        self.error.setText(text)


class AddDeviceDialog(_Dialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Add a device", "Add device", parent)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("e.g. Stall W-2, Meter reading room")
        self.name.setMaxLength(120)
        self.name.setMinimumHeight(40)
        self.kind = QComboBox(self)
        self.kind.setMinimumHeight(40)
        for kind in KINDS + SCREEN_KINDS:
            self.kind.addItem(KIND_WORDS.get(kind, kind), kind)
        self.expiry = ExpiryField(self)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("Expiry", self.expiry)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.name.setFocus()

    def accept(self) -> None:
        if not self.name.text().strip():
            self.show_error("Give the device a name people will recognise.")
            return
        super().accept()


class ExpiryDialog(_Dialog):
    def __init__(self, device_name: str, expires_at: float | None, parent: QWidget | None = None) -> None:
        super().__init__("Token expiry", "Save", parent)
        label = QLabel(f"When should the token of <b>{device_name}</b> stop working? The device is refused from "
                       "then on, until its token is rotated.", self)
        label.setWordWrap(True)
        self.expiry = ExpiryField(self, expires_at)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.expiry)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)


class DeleteDeviceDialog(_Dialog):
    def __init__(self, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__("Delete a device", "Delete device", parent)
        label = QLabel(f"Delete <b>{device_name}</b>? It can no longer log in and leaves the device list.", self)
        label.setWordWrap(True)
        self.keep = QRadioButton("Keep its history (readings, energy graphs, stall history stay)", self)
        self.remove = QRadioButton("Remove its history too (cannot be undone; may take a while)", self)
        self.keep.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.keep)
        group.addButton(self.remove)
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("reason (goes to the audit log)")
        self.reason.setMaxLength(200)
        self.reason.setMinimumHeight(40)
        layout = QVBoxLayout(self)
        for widget in (label, self.keep, self.remove, self.reason, self.error, self.buttons):
            layout.addWidget(widget)
        self.reason.setFocus()

    @property
    def keep_history(self) -> bool:
        return self.keep.isChecked()

    def accept(self) -> None:
        if not self.reason.text().strip():
            self.show_error("Say why (it goes to the audit log).")
            return
        super().accept()
