"""The admin's Devices page: every device live (the shared table), and for the selected one everything known about it,
its latest messages and log lines, and what an admin may do to it (token, expiry, revoke, delete).

The table is kiosk.ui.admin.devices_view (one row repainted per changed device); the detail pane follows the selected
device's row and reads messages and log lines every 2 s while it is on screen.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.devices import DeviceSnapshot
from kiosk.ui.admin.admin_common import attempt, open_dialog
from kiosk.ui.admin.device_dialogs import AddDeviceDialog, DeleteDeviceDialog, ExpiryDialog
from kiosk.ui.admin.devices_model import STATE_STYLE, DevicesModel, ago, state_key
from kiosk.ui.admin.devices_view import DevicesView
from kiosk.ui.admin.token_dialog import TokenDialog
from kiosk.ui.widgets.background import Background
from kiosk.ui.widgets.reason_dialog import ask_reason
from kiosk.ui.widgets.scrolling import scrolled

DETAIL_REFRESH_MS = 2000


def _stamp(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days} d {hours} h" if days else (f"{hours} h {minutes} min" if hours else f"{minutes} min")


def facts(snap: DeviceSnapshot, now: float, expires_at: float | None,
          reasons: list[tuple[str, int, float, str]] = ()) -> list[tuple[str, str]]:  # type: ignore[assignment]
    """What the detail pane lists about a device, in words (an unknown value is a dash, never a made-up one)."""
    word, symbol, _ = STATE_STYLE[state_key(snap)]
    uptime = "—"
    if snap.uptime_s is not None and snap.uptime_at is not None:
        uptime = _duration(snap.uptime_s + max(0.0, now - snap.uptime_at)) + f" (reported {ago(now - snap.uptime_at)})"
    rejection = "—" if snap.last_reject_reason is None else (
        f"{snap.last_reject_reason.replace('_', ' ')}: {snap.last_reject_detail or ''}")
    return [("Id", snap.id), ("Kind", snap.kind), ("State", f"{symbol} {word}"),
            ("Last seen", "never" if snap.last_seen is None
             else f"{ago(now - snap.last_seen)} ({_stamp(snap.last_seen)})"),
            ("IP address", snap.ip or "—"), ("MAC address", snap.mac or "—"), ("Firmware", snap.firmware or "—"),
            ("Battery", "—" if snap.battery is None else f"{snap.battery:.0f} %"),
            ("Signal", "—" if snap.signal is None else f"{snap.signal:.0f} dBm"), ("Uptime", uptime),
            ("Messages", f"{snap.received:,} received, {snap.rejected:,} rejected" + (" (" + ", ".join(
                f"{reason.replace('_', ' ')} {count:,}" for reason, count, _at, _detail in reasons) + ")"
                if reasons else "")), ("Last rejection", rejection),
            ("Token", "revoked" if snap.revoked else ("never expires" if expires_at is None
                                                       else f"expires {_stamp(expires_at)}"))]


class DeviceDetail(QWidget):
    """Signals:
        actionRequested(str): "rotate", "expiry", "revoke", "repair" (a StallSense board) or "delete" for the
            shown device.
    """

    actionRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snapshot: DeviceSnapshot | None = None
        self.expires_at: float | None = None
        self.reasons: list[tuple[str, int, float, str]] = []  # rejected messages by reason (read with the activity)
        self.title = QLabel("Select a device", self)
        self.title.setStyleSheet("font-size: 18px; font-weight: bold")
        self.title.setWordWrap(True)
        self.form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for label in ("Id", "Kind", "State", "Last seen", "IP address", "MAC address", "Firmware", "Battery", "Signal",
                      "Uptime", "Messages", "Last rejection", "Token"):
            value = QLabel("—", self)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[label] = value
            self.form.addRow(label, value)
        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        for key, text in (("rotate", "New token…"), ("expiry", "Expiry…"), ("revoke", "Revoke"),
                          ("repair", "Re-pair…"), ("delete", "Delete…")):
            button = QPushButton(text, self)
            button.setMinimumHeight(40)
            button.clicked.connect(lambda _=False, k=key: self.actionRequested.emit(k))
            self.buttons[key] = button
            actions.addWidget(button)
        self.messages = QListWidget(self)
        self.messages.setObjectName("recentMessages")
        self.logs = QPlainTextEdit(self)
        self.logs.setReadOnly(True)
        self.logs.setObjectName("deviceLogs")
        self.logs.setPlaceholderText("No log lines (devices send them on device/{id}/logs).")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.form)
        layout.addLayout(actions)
        self.history = QLabel("", self)
        self.history.setObjectName("firmwareHistory")
        self.history.setWordWrap(True)
        layout.addWidget(self.history)
        layout.addWidget(QLabel("Latest messages (since the hub started)", self))
        layout.addWidget(self.messages, 1)
        layout.addWidget(QLabel("Device log, newest first", self))
        layout.addWidget(self.logs, 1)
        self.show_device(None)

    def show_device(self, snap: DeviceSnapshot | None, expires_at: float | None = None,
                    now: float | None = None) -> None:
        if snap is None or self.snapshot is None or snap.id != self.snapshot.id:
            self.reasons = []
        self.snapshot, self.expires_at = snap, expires_at
        for button in self.buttons.values():
            button.setEnabled(snap is not None)
        if snap is None:
            self.title.setText("Select a device to see its details")
            for value in self.values.values():
                value.setText("—")
            self.messages.clear()
            self.logs.clear()
            self.history.clear()
            return
        self.title.setText(snap.name)
        for label, text in facts(snap, time.time() if now is None else now, expires_at, self.reasons):
            self.values[label].setText(text)
        self.buttons["revoke"].setEnabled(not snap.revoked)
        legacy = snap.kind == "stallsense"  # no token: admitted by name, pinned to its address once assigned
        for key in ("rotate", "expiry"):
            self.buttons[key].setVisible(not legacy)
        self.buttons["repair"].setVisible(legacy)
        self.buttons["repair"].setToolTip("The board moved to another address (a new router, DHCP): admit its next "
                                          "login from wherever it comes and pin that address")

    def show_activity(self, messages: list[tuple[float, bool, str]], logs: list[tuple[float, str, str]],
                      firmware: list[tuple[float, str, str]] = (),  # type: ignore[assignment]
                      reasons: list[tuple[str, int, float, str]] = ()) -> None:  # type: ignore[assignment]
        if reasons != self.reasons and self.snapshot is not None:
            self.reasons = list(reasons)
            self.show_device(self.snapshot, self.expires_at)
        self.history.setText("Firmware history: " + " · ".join(
            f"{version} ({'by update' if source == 'ota' else 'reported'}, "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(at))})" for at, version, source in firmware[:5])
            if firmware else "")
        self.messages.clear()
        for ts, ok, text in messages:
            item = QListWidgetItem(f"{time.strftime('%H:%M:%S', time.localtime(ts))}  {'' if ok else '✕ '}{text}")
            if not ok:
                item.setForeground(Qt.GlobalColor.darkRed)
            self.messages.addItem(item)
        if not messages:
            self.messages.addItem("No messages since the hub started.")
        self.logs.setPlainText("\n".join(f"{_stamp(ts)}  {level.upper():5}  {text}" for ts, level, text in logs))


class AdminDevicesPage(QWidget):
    """Signals:
        commandSent(): a command went out from here (the admin tab shows the Commands page).
    """

    commandSent = Signal()

    def __init__(self, model: DevicesModel, view: DevicesView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.model = model
        self.view = view
        self.dialog: Any = None
        self._background = Background(self)  # the detail pane's reads (a newer read makes an older one stale)
        self._purger = Background(self)  # deleting a device with its history
        self.add_button = QPushButton("Add device…", self)
        self.add_button.setMinimumHeight(40)
        self.add_button.clicked.connect(self.open_add)
        self.add_button.setEnabled(False)
        self.command_button = QPushButton("Send command…", self)
        self.command_button.setMinimumHeight(40)
        self.command_button.setToolTip("To the selected devices (Ctrl+click or Shift+click selects several)")
        self.command_button.clicked.connect(self.open_command)
        self.command_button.setEnabled(False)
        self.detail = DeviceDetail(self)
        self.detail.actionRequested.connect(self._action)
        splitter = QSplitter(self)
        splitter.addWidget(view)
        splitter.addWidget(scrolled(self.detail, self))  # all of a device's facts and buttons, on any screen
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        top = QHBoxLayout()
        top.addWidget(self.add_button)
        top.addWidget(self.command_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        view.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.table.selectionModel().selectionChanged.connect(self._selection_changed)
        model.dataChanged.connect(self._row_changed)
        model.rowsRemoved.connect(lambda *_: self._selection_changed())
        model.modelReset.connect(self._filtered)
        model.rowsInserted.connect(self._select_pending)
        self._pending: str | None = None  # a device just added: selected as soon as its row arrives
        self._refresh = QTimer(self)
        self._refresh.setInterval(DETAIL_REFRESH_MS)
        self._refresh.timeout.connect(self._read_activity)
        self._refresh.start()

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self.add_button.setEnabled(True)

    def selected_ids(self) -> list[str]:
        rows = sorted(self.view.table.selectionModel().selectedRows(), key=lambda index: index.row())
        return [self.model.snapshot(index.row()).id for index in rows if index.row() < self.model.rowCount()]

    def selected_id(self) -> str | None:
        """The device the detail pane shows: the first selected one."""
        ids = self.selected_ids()
        return ids[0] if ids else None

    def open_command(self) -> Any:
        from kiosk.ui.admin.admin_commands import open_command_dialog

        if self.ops is None:
            return None
        targets = []
        for device_id in self.selected_ids():
            row = self.model.row_of(device_id)
            if row is not None:
                targets.append((device_id, self.model.snapshot(row).name))
        return open_command_dialog(self, self.ops, targets, self.commandSent.emit)

    def _select_pending(self, *_: object) -> None:
        if self._pending is not None and self.model.row_of(self._pending) is not None:
            self.select(self._pending)
            self._pending = None

    def select(self, device_id: str) -> None:
        row = self.model.row_of(device_id)
        if row is not None:
            self.view.table.selectRow(row)

    def _filtered(self) -> None:
        """The filter changed (a model reset clears the selection): keep the shown device selected if it is still
        listed, else the pane is emptied."""
        shown = self.detail.snapshot
        if shown is not None and self.model.row_of(shown.id) is not None:
            self.select(shown.id)
        else:
            self._selection_changed()

    def _selection_changed(self, *_: QItemSelection) -> None:
        device_id = self.selected_id()
        row = None if device_id is None else self.model.row_of(device_id)
        snap = None if row is None else self.model.snapshot(row)
        expires = self.ops.token_expiry(snap.id) if snap is not None and self.ops is not None else None
        self.detail.show_device(snap, expires)
        self.command_button.setEnabled(self.ops is not None and snap is not None)
        self._read_activity()

    def _row_changed(self, top: Any, bottom: Any, roles: Any = ()) -> None:
        shown = self.detail.snapshot
        if shown is None or not self.isVisible():
            return
        row = self.model.row_of(shown.id)
        if row is not None and top.row() <= row <= bottom.row():
            self.detail.show_device(self.model.snapshot(row), self.detail.expires_at)

    def _read_activity(self) -> None:
        shown = self.detail.snapshot
        if shown is None or self.ops is None or not self.isVisible():
            return
        device_id = self.detail.snapshot.id if self.detail.snapshot else ""
        ops = self.ops

        def read() -> tuple[list, list, list, list]:
            return (ops.recent_messages(device_id), ops.device_logs(device_id), ops.firmware_history(device_id),
                    ops.rejection_reasons(device_id))

        def show(result: tuple[list, list, list, list]) -> None:
            if self.detail.snapshot is not None and self.detail.snapshot.id == device_id:
                self.detail.show_activity(*result)

        self._background.run(read, show, lambda error: None)

    # --- actions --------------------------------------------------------------------------------------------------

    def open_add(self) -> AddDeviceDialog:
        dialog = AddDeviceDialog(self)
        dialog.accepted.connect(lambda: self._add(dialog))
        self._open(dialog)
        return dialog

    def _add(self, dialog: AddDeviceDialog) -> None:
        ok, made = self._try(lambda: self.ops.create_device(dialog.name.text(), dialog.kind.currentData(),
                                                            dialog.expiry.value()))
        if not ok:
            return
        self._open(TokenDialog("New device", made.info.name, made.info.id, made.token, made.qr_text(), self,
                               made.info.kind))
        self._pending = made.info.id  # its row arrives with the hub's next `devices` event
        self._select_pending()

    def _action(self, what: str) -> None:
        snap = self.detail.snapshot
        if snap is None:
            return
        if what == "rotate":
            self.dialog = ask_reason(self, "New token", f"Give {snap.name} a new token? The old one stops working "
                                     "at once and the device is disconnected until it has the new one. Why?",
                                     "Issue new token", lambda why: self._rotate(snap, why))
        elif what == "expiry":
            dialog = ExpiryDialog(snap.name, self.detail.expires_at, self)
            dialog.accepted.connect(lambda: self._set_expiry(snap, dialog.expiry.value()))
            self._open(dialog)
        elif what == "revoke":
            self.dialog = ask_reason(self, "Revoke device", f"Revoke {snap.name}? It is disconnected now and refused "
                                     "until it gets a new token. Why?", "Revoke",
                                     lambda why: self._try(lambda: self.ops.revoke(snap.id, why)))
        elif what == "repair":
            box = QMessageBox(QMessageBox.Icon.Question, "Re-pair board",
                              f"{snap.name} is admitted only from the address it first logged in from after it was "
                              "assigned to a stall, so that nobody else can use its name.\n\nRe-pair it because it "
                              "moved? Its next login, from wherever it comes, is admitted and pins the new address.",
                              QMessageBox.StandardButton.Cancel, self)
            box.addButton("Re-pair", QMessageBox.ButtonRole.AcceptRole).clicked.connect(
                lambda: self._try(lambda: self.ops.repair_legacy(snap.id)))
            self._open(box)
        elif what == "delete":
            dialog = DeleteDeviceDialog(snap.name, self)
            dialog.accepted.connect(lambda: self._delete(snap, dialog.keep_history, dialog.reason.text().strip()))
            self._open(dialog)

    def _rotate(self, snap: DeviceSnapshot, why: str) -> None:
        ok, token = self._try(lambda: self.ops.rotate(snap.id, self.detail.expires_at, why))
        if ok:
            self._open(TokenDialog("New token", snap.name, snap.id, token,
                                   self.ops.provisioning_text(snap.id, token), self, snap.kind))

    def _set_expiry(self, snap: DeviceSnapshot, expires_at: float | None) -> None:
        if self._try(lambda: self.ops.set_expiry(snap.id, expires_at))[0]:
            self._selection_changed()

    def _delete(self, snap: DeviceSnapshot, keep_history: bool, reason: str) -> None:
        if keep_history:
            self._try(lambda: self.ops.delete_device(snap.id, True, reason))
            return
        progress = QProgressDialog(f"Removing {snap.name} and its history…", "", 0, 0, self)
        progress.setCancelButton(None)  # the device is already gone; the purge finishes (or resumes) by itself
        progress.setMinimumDuration(0)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog = progress
        ops = self.ops

        def done(rows: int) -> None:
            progress.close()
            self._open(QMessageBox(QMessageBox.Icon.Information, "Device deleted",
                                   f"{snap.name} was deleted with {rows:,} rows of history.", parent=self))

        def failed(error: Exception) -> None:
            progress.close()
            self._open(QMessageBox(QMessageBox.Icon.Critical, "Not deleted", str(error), parent=self))

        progress.show()
        self._purger.run(lambda: ops.delete_device(snap.id, False, reason), done, failed)

    def _try(self, work: Any) -> tuple[bool, Any]:
        return attempt(self, work)

    def _open(self, dialog: Any) -> None:
        open_dialog(self, dialog)

    def wait(self) -> None:
        self._background.wait()
        self._purger.wait()
