"""Asks for the admin PIN, with an on-screen keypad for touch screens (typing works too).

If this machine has no PIN yet, the same dialog asks for a new one twice and stores its hash, except where a
passer-by could be the one answering (the wall display: `may_choose=False`): there it says how the PIN is set
(`kiosk admin set-pin` on that machine) and does nothing.

The dialog carries its own style (dark text on white, large type and keys), so that a dark parent such as the wall
display, whose labels are white, cannot make it unreadable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.client.pin_file import read_pin_hash, write_pin_hash
from kiosk.core.pin import PinError, PinGate, check_new_pin, hash_pin

READABLE = ("QDialog { background: #ffffff; } QLabel { color: #000000; font-size: 22px; } "
            "QLabel#pinError { color: #b00020; font-weight: bold; } "
            "QLineEdit { color: #000000; background: #ffffff; border: 2px solid #455a64; font-size: 28px; } "
            "QPushButton { color: #000000; background: #eceff1; border: 1px solid #90a4ae; border-radius: 6px; "
            "font-size: 24px; min-height: 60px; min-width: 80px; } QPushButton:pressed { background: #cfd8dc; }")


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
        self.setStyleSheet(READABLE)
        self.setMinimumWidth(420)
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


class NoPinNotice(QDialog):
    """Said instead of asking, where no PIN is set and whoever stands in front may not choose one."""

    def __init__(self, purpose: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Admin PIN")
        self.setModal(True)
        self.setStyleSheet(READABLE)
        self.setMinimumWidth(520)
        self.message = QLabel(f"To {purpose}, this machine needs an admin PIN, and none is set yet.\n\n"
                              "Whoever looks after it sets one on this machine with:\n    kiosk admin set-pin", self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("&OK", self)
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(close)
        close.setFocus()


def ask_admin(pin: Any, purpose: str, parent: QWidget | None, then: Callable[[], None],
              may_choose: bool = True) -> QDialog | None:
    """`then` runs once an admin is known. On the hub `pin` is a kiosk.ui.operator_gate.OperatorGate (the admin
    signed in, or a sign-in now); on the wall display the machine's AdminPin (the PIN dialog, window-modal, no nested
    event loop). With `may_choose` False and no PIN set, a notice says how to set one and `then` never runs.
    Returns the dialog shown, if any."""
    if hasattr(pin, "ask"):
        return pin.ask(purpose, parent, then)
    if not may_choose and not pin.is_set:
        notice = NoPinNotice(purpose, parent)
        notice.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        notice.open()
        return notice
    dialog = PinDialog(pin, purpose, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(then)
    dialog.open()
    return dialog
