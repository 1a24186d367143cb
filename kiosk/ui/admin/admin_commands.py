"""Commands: the dialog that sends one (to the selected devices, or to an organisation as a broadcast) and the page
that follows every command's life (queued, sent, acknowledged, done, failed, expired), refreshed every 2 s while
on screen."""

from __future__ import annotations

import json
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.admin.admin_common import make_table
from kiosk.ui.widgets.background import Background

KNOWN_COMMANDS = ("restart", "identify", "sync_clock", "report_status", "reset_wifi")  # firmware/README.md
STATE_COLOURS = {"done": "#1b7f3a", "failed": "#b3261e", "expired": "#b3261e", "queued": "#5f6368"}
REFRESH_MS = 2000


class CommandDialog(QDialog):
    """Name, parameters (a JSON object) and time-to-live of a command for `targets` devices, or a broadcast."""

    def __init__(self, targets: list[tuple[str, str]], organizations: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.targets = targets
        self.setWindowTitle("Send a command")
        self.setModal(True)
        self.setMinimumWidth(520)
        names = ", ".join(name for _, name in targets[:4]) + (f" and {len(targets) - 4} more"
                                                              if len(targets) > 4 else "")
        self.to = QComboBox(self)
        if targets:
            self.to.addItem(f"{len(targets)} selected device{'s' if len(targets) != 1 else ''}: {names}", None)
        for organization in organizations:
            self.to.addItem(f"Broadcast to organisation {organization!r}", organization)
        self.name = QComboBox(self)
        self.name.setEditable(True)
        self.name.addItems(KNOWN_COMMANDS)
        self.parameters = QLineEdit("{}", self)
        self.parameters.setPlaceholderText('a JSON object, e.g. {"delay_s": 5}')
        self.ttl = QSpinBox(self)
        self.ttl.setRange(1, 7 * 24 * 60)
        self.ttl.setValue(10)
        self.ttl.setSuffix(" min")
        for widget in (self.to, self.name, self.parameters, self.ttl):
            widget.setMinimumHeight(40)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        form = QFormLayout()
        form.addRow("To", self.to)
        form.addRow("Command", self.name)
        form.addRow("Parameters", self.parameters)
        form.addRow("Give up after", self.ttl)
        hint = QLabel("Offline devices get the command when they are next heard from, until it expires. Restart is "
                      "done when the device comes back with a smaller uptime.", self)
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        ok = buttons.addButton("Send", QDialogButtonBox.ButtonRole.AcceptRole)
        ok.setMinimumHeight(40)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.send: Any = None  # set by the opener: (dialog) -> None, raises with a reason

    def parsed_parameters(self) -> Any:
        text = self.parameters.text().strip() or "{}"
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Parameters are not JSON: {exc.msg} at character {exc.pos}.") from None

    def accept(self) -> None:
        try:
            self.send(self)
        except (PermissionError, ValueError) as exc:
            self.error.setText(str(exc))
            return
        super().accept()


def send_from(dialog: CommandDialog, ops: Any) -> None:
    """What the dialog's Send does: to the selected devices, or a broadcast."""
    name, parameters, ttl_s = dialog.name.currentText().strip(), dialog.parsed_parameters(), dialog.ttl.value() * 60.0
    organization = dialog.to.currentData()
    if organization is None:
        ops.send_command([device_id for device_id, _ in dialog.targets], name, parameters, ttl_s)
    else:
        ops.broadcast(organization, name, parameters, ttl_s)


class CommandsPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: Any = None
        self._background = Background(self)
        self.broadcast_button = QPushButton("Broadcast a command…", self)
        self.broadcast_button.setMinimumHeight(40)
        self.broadcast_button.clicked.connect(self.open_broadcast)
        self.summary = QLabel("", self)
        self.table = make_table(self, ["Sent", "To", "Command", "State", "Detail", "By"])
        top = QHBoxLayout()
        top.addWidget(self.broadcast_button)
        top.addStretch(1)
        top.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def attach(self, operations: Any) -> None:
        self.ops = operations

    def open_broadcast(self) -> CommandDialog | None:
        if self.ops is None:
            return None
        return open_command_dialog(self, self.ops, [], self.refresh)

    def refresh(self) -> None:
        if self.ops is None or not self.isVisible():
            return
        ops = self.ops
        self._background.run(lambda: (ops.commands(), ops.device_names()), self._show, lambda error: None)

    def _show(self, result: tuple[list, dict[str, str]]) -> None:
        rows, names = result
        self.table.setRowCount(len(rows))
        open_count = 0
        for row, (command, actor) in enumerate(rows):
            open_count += not command.state.final
            target = command.device_id
            target = names.get(target, target.replace("organizations/", "broadcast: "))
            parameters = json.dumps(command.parameters) if command.parameters else ""
            values = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(command.created_at)), target,
                      f"{command.name} {parameters}".strip(), command.state.value, command.detail, actor)
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 3 and command.state.value in STATE_COLOURS:
                    item.setForeground(QColor(STATE_COLOURS[command.state.value]))
                if column == 4:
                    item.setToolTip("\n".join(f"{time.strftime('%H:%M:%S', time.localtime(at))}  {state}  {detail}"
                                              for at, state, detail in command.history))
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.summary.setText(f"{len(rows)} commands, {open_count} still open" if rows else "No commands sent yet.")

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def wait(self) -> None:
        self._background.wait()


def open_command_dialog(parent: Any, ops: Any, targets: list[tuple[str, str]],
                        sent: Any = lambda: None) -> CommandDialog:
    """Window-modal; `sent` runs after a command went out (the admin tab then shows the Commands page)."""
    dialog = CommandDialog(targets, ops.organizations(), parent)
    dialog.send = lambda d: send_from(d, ops)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(sent)
    parent.dialog = dialog
    dialog.open()
    return dialog
