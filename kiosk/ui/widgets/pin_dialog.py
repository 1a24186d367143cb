"""Asks for the admin PIN, with an on-screen keypad for touch screens (typing works too).

If this machine has no PIN yet, the same dialog asks for a new one twice and stores its hash.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.client.pin_file import read_pin_hash, write_pin_hash
from kiosk.core.pin import PinError, PinGate, check_new_pin, hash_pin


class AdminPin:
    """The machine's admin PIN: one gate (and lockout) for the whole program."""

    def __init__(self, data_dir: Path, on_set: Callable[[], None] = lambda: None) -> None:
        self.data_dir = Path(data_dir)
        self.gate = PinGate(lambda: read_pin_hash(self.data_dir),
                            rehashed=lambda new: write_pin_hash(self.data_dir, new))  # an old scrypt hash
        self._on_set = on_set

    @property
    def is_set(self) -> bool:
        return read_pin_hash(self.data_dir) is not None

    def set(self, pin: str) -> None:
        check_new_pin(pin)
        write_pin_hash(self.data_dir, hash_pin(pin))
        self._on_set()


class PinDialog(QDialog):
    def __init__(self, pin: AdminPin, purpose: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pin = pin
        self._choosing = not pin.is_set
        self.setWindowTitle("Admin PIN")
        self.setModal(True)
        intro = ("No admin PIN is set on this machine yet. Choose one (at least 6 digits) to " + purpose + "."
                 if self._choosing else "Enter the admin PIN to " + purpose + ".")
        self.message = QLabel(intro, self)
        self.message.setWordWrap(True)
        self.entry = self._field()
        self.again = self._field()
        self.again.setPlaceholderText("the same PIN again")
        self.again.setVisible(self._choosing)
        self.error = QLabel("", self)
        self.error.setObjectName("pinError")
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.message, self.entry, self.again, self.error):
            layout.addWidget(widget)
        layout.addLayout(self._keypad())
        self.entry.setFocus()

    def _field(self) -> QLineEdit:
        field = QLineEdit(self)
        field.setEchoMode(QLineEdit.EchoMode.Password)
        field.setMinimumHeight(48)
        field.setAlignment(Qt.AlignmentFlag.AlignCenter)
        field.returnPressed.connect(self._submit)
        return field

    def _keypad(self) -> QGridLayout:
        grid = QGridLayout()
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "Clear", "0", "OK"]
        for index, key in enumerate(keys):
            button = QPushButton(key, self)
            button.setMinimumSize(72, 56)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, k=key: self._key(k))
            grid.addWidget(button, index // 3, index % 3)
        cancel = QPushButton("Cancel", self)
        cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        cancel.clicked.connect(self.reject)
        grid.addWidget(cancel, 4, 0, 1, 3)
        return grid

    def _target(self) -> QLineEdit:
        return self.again if self.again.hasFocus() else self.entry

    def _key(self, key: str) -> None:
        if key == "OK":
            self._submit()
        elif key == "Clear":
            self._target().clear()
        else:
            self._target().insert(key)

    def _submit(self) -> None:
        pin = self.entry.text()
        if self._choosing:
            if self.again.text() != pin:
                self.error.setText("The two PINs differ.")
                return
            try:
                self._pin.set(pin)
            except PinError as exc:
                self.error.setText(str(exc))
                return
            self.accept()
            return
        if self._pin.gate.check(pin):
            self.accept()
            return
        self.entry.clear()
        locked = self._pin.gate.locked_for()
        self.error.setText(f"Too many wrong PINs: try again in {locked:.0f} s." if locked else "Wrong PIN.")


def ask_admin(pin: Any, purpose: str, parent: QWidget | None, then: Callable[[], None]) -> QDialog | None:
    """`then` runs once an admin is known. On the hub `pin` is a kiosk.ui.operator_gate.OperatorGate (the admin
    signed in, or a sign-in now); on the wall display the machine's AdminPin (the PIN dialog, window-modal, no nested
    event loop). Returns the dialog shown, if any."""
    if hasattr(pin, "ask"):
        return pin.ask(purpose, parent, then)
    dialog = PinDialog(pin, purpose, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(then)
    dialog.open()
    return dialog
