"""Admin > Health (broker, database, device worker, open commands and updates, from the hub's status each second),
Notifications (phantom loads, devices gone offline, overdue lockers; acknowledge them) and Settings (the run-time
settings, validated, saved and applied at once).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk import config
from kiosk.ui.admin.admin_common import make_table
from kiosk.ui.widgets.background import Background
from kiosk.ui.widgets.notice_words import notice_state
from kiosk.ui.widgets.scrolling import scrolled

NOTIFICATION_KINDS = {"phantom": "Phantom load", "device_offline": "No signal",
                      "lockers_overdue": "Lockers overdue"}


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min {rest % 60} s" if rest >= 60 else f"{rest} s"


def _journal_text(journal: dict[str, Any]) -> str:
    """The broker's journal in words: is it written, how far behind the database is."""
    if journal.get("error"):
        state = f"WRITE ERROR: {journal['error']}"
    elif journal.get("waiting_for_disk"):
        state = f"{journal['waiting_for_disk']:,} messages wait for the disk"
    else:
        state = "every device message on disk before its acknowledgement"
    return (f"{state}; {journal.get('behind', 0):,} acknowledged and not in the database yet; "
            f"synchronous = {journal.get('synchronous')}")


class HealthPage(QWidget):
    """Facts in words, updated from the bridge's statusChanged while the page is on screen."""

    FIELDS = (("Broker", ("State", "Uptime", "Clients connected", "Devices connected", "Sessions",
                          "Logins accepted", "Logins refused", "Guessing", "Refused publishes", "Old or new clients",
                          "Messages", "Retained", "Memory")),
              ("Database", ("State", "Not stored yet", "Journal", "Duplicates")),
              ("Device worker", ("Link", "Accepted", "Rejected", "Unknown devices", "Readings")),
              ("HTTP", ("Refused", "Guessing", "Open connections")),
              ("Work in progress", ("Commands open", "Firmware updates")))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.values: dict[tuple[str, str], QLabel] = {}
        body = QWidget(self)
        grid = QGridLayout(body)
        for index, (title, names) in enumerate(self.FIELDS):
            box = QGroupBox(title, body)
            form = QFormLayout(box)
            for name in names:
                value = QLabel("—", box)
                value.setWordWrap(True)
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.values[(title, name)] = value
                form.addRow(name, value)
            grid.addWidget(box, index // 2, index % 2)
        grid.setRowStretch(3, 1)
        layout = QVBoxLayout(self)  # taller than a 720-line screen leaves room for: it scrolls
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scrolled(body, self))

    def attach(self, operations: Any) -> None:
        self.ops = operations

    def _set(self, box: str, name: str, text: str) -> None:
        self.values[(box, name)].setText(text)

    def show_status(self, status: Any) -> None:
        if not self.isVisible():
            return
        broker = status.broker
        if not status.broker_embedded:
            self._set("Broker", "State", "external broker (" + ("reachable" if status.link_connected
                                                                 else f"not reachable: {status.link_detail}") + ")")
        elif broker is None or not broker.running:
            self._set("Broker", "State", "DOWN")
        elif not broker.responding:
            self._set("Broker", "State", f"NOT RESPONDING: its process has sent no report for {broker.silent_s:.0f} s "
                      "(stopped or hung); devices cannot send until it answers again")
        else:
            self._set("Broker", "State", "running (embedded)")
            self._set("Broker", "Uptime", _duration(broker.uptime_s))
            self._set("Broker", "Clients connected", str(broker.connected))
            self._set("Broker", "Devices connected", str(broker.devices_connected))
            self._set("Broker", "Sessions", str(broker.sessions))
            self._set("Broker", "Logins accepted", f"{broker.accepted_logins:,}")
            refused = broker.refused_logins or {}
            self._set("Broker", "Logins refused", ", ".join(f"{reason}: {count:,}" for reason, count in
                                                            sorted(refused.items())) or "none")
            self._set("Broker", "Guessing", f"{broker.slowed_logins:,} failed logins answered late"
                      + (f"; {broker.held_sources} addresses or names slowed down now" if broker.held_sources else ""))
            refused_publishes = broker.refused_publish_total
            self._set("Broker", "Refused publishes", f"{refused_publishes:,} (topics the device may not use; per "
                                                     "device: Devices page)")
            self._set("Broker", "Old or new clients", ", ".join(
                f"{version}: {count:,} refused" for version, count in sorted(broker.unsupported_protocols.items()))
                or "none refused (MQTT 3.1.1 and 3.1 are served)")
            self._set("Broker", "Messages", f"{status.broker_in_per_s:.1f}/s in, {status.broker_out_per_s:.1f}/s "
                                            f"out ({broker.messages_in:,} in since start)")
            self._set("Broker", "Retained", f"{broker.retained:,} messages")
            self._set("Broker", "Memory", f"{broker.memory_bytes / 1e6:.0f} MB" if broker.memory_bytes else "—")
        self._set("Database", "State", f"{status.database}: " + ("writing" if status.database_ok
                                                                 else f"NOT WRITING: {status.database_error}"))
        self._set("Database", "Not stored yet", f"{status.backlog:,} readings (taken in; waiting for the "
                                                "database)")
        journal = status.journal
        self._set("Database", "Journal", "none (external broker: no acknowledgement is kept on disk here)"
                  if journal is None else _journal_text(journal))
        self._set("Database", "Duplicates", f"{status.duplicates:,} readings sent again, stored once")
        self._set("Device worker", "Link", "connected" if status.link_connected else status.link_detail)
        ingest = status.ingest
        self._set("Device worker", "Accepted", f"{ingest.accepted:,}")
        self._set("Device worker", "Rejected", f"{ingest.rejected:,} (reasons per device: Devices page)")
        self._set("Device worker", "Unknown devices", f"{ingest.unknown_devices:,} messages")
        self._set("Device worker", "Readings", f"{ingest.per_second:.1f}/s")
        self._set("HTTP", "Refused", ", ".join(f"{reason.replace('_', ' ')}: {count:,}" for reason, count in
                                               sorted(status.http_refused.items())) or "none")
        self._set("HTTP", "Guessing", f"{status.http_slowed:,} wrong device tokens answered late")
        self._set("HTTP", "Open connections", str(status.http_connections))
        if self.ops is not None:
            activity = self.ops.activity()
            self._set("Work in progress", "Commands open", str(activity["commands"]))
            self._set("Work in progress", "Firmware updates",
                      f"{activity['updates']} not finished, {activity['updates_in_flight']} in flight")


class NotificationsPage(QWidget):
    """Signals:
        countChanged(int): notifications not yet acknowledged (the admin tab shows it in the page's title).
    """

    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self._rows: list[Any] = []
        self._background = Background(self)
        self.acknowledge_button = QPushButton("Acknowledge", self)
        self.acknowledge_button.setMinimumHeight(40)
        self.acknowledge_button.setToolTip("The selected notifications (Ctrl+click or Shift+click for several)")
        self.acknowledge_button.clicked.connect(self.acknowledge_selected)
        self.show_all = QCheckBox("Show acknowledged too", self)
        self.show_all.toggled.connect(self.refresh)
        self.summary = QLabel("", self)
        self.table = make_table(self, ["When", "What", "Title", "State", "Detail"])
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        top = QHBoxLayout()
        top.addWidget(self.acknowledge_button)
        top.addWidget(self.show_all)
        top.addStretch(1)
        top.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self._timer = QTimer(self)
        self._timer.setInterval(5000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._selection_changed()

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self._tick()

    def _tick(self) -> None:
        if self.ops is None:
            return
        if self.isVisible():
            self.refresh()
        else:  # only the count, for the page's title; off the GUI thread like every read here
            self._background.run(self.ops.open_notifications, self.countChanged.emit, lambda error: None)

    def refresh(self) -> None:
        if self.ops is None:
            return
        ops, everything = self.ops, self.show_all.isChecked()
        self._background.run(lambda: (ops.notifications(everything), ops.open_notifications()), self._show,
                             lambda error: self.summary.setText(f"Could not read: {error}"))

    def _show(self, result: tuple[list, int]) -> None:
        rows, open_count = result
        self._rows = rows
        self.table.setRowCount(len(rows))
        for row, notice in enumerate(rows):
            state = notice_state(notice)
            values = (time.strftime("%Y-%m-%d %H:%M", time.localtime(notice.created_at)),
                      NOTIFICATION_KINDS.get(notice.kind, notice.kind), notice.title, state, notice.detail)
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 4:
                    item.setToolTip(text)
                if column == 3 and state == "going on":
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.summary.setText(f"{open_count} to acknowledge" if open_count else "Nothing to acknowledge.")
        self.countChanged.emit(open_count)
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.acknowledge_button.setEnabled(any(self._rows[i.row()].acknowledged_at is None
                                               for i in self.table.selectionModel().selectedRows()
                                               if i.row() < len(self._rows)))

    def acknowledge_selected(self) -> None:
        ids = [self._rows[i.row()].id for i in self.table.selectionModel().selectedRows()
               if i.row() < len(self._rows) and self._rows[i.row()].acknowledged_at is None]
        if ids and self.ops is not None:
            try:
                self.ops.acknowledge(ids)
            except (PermissionError, LookupError) as exc:
                self.summary.setText(str(exc))
            self.refresh()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def wait(self) -> None:
        self._background.wait()


class SettingsPage(QWidget):
    """Signals:
        changed(dict): settings that were changed and applied ({key: new value}).
    """

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.editors: dict[str, Any] = {}
        self.form = QGridLayout()
        self.form.setColumnStretch(0, 1)
        self.form.setHorizontalSpacing(24)
        self.save_button = QPushButton("Save and apply", self)
        self.save_button.setMinimumHeight(40)
        self.save_button.clicked.connect(self.save)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        intro = QLabel("These settings take effect at once and are kept in runtime.toml in the settings folder. "
                       "Others (ports, addresses, the database) are in kiosk.toml and need a restart: "
                       "<code>kiosk config show</code> lists them all with where each comes from.", self)
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(self.form)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.message, 1)
        layout.addLayout(row)
        layout.addStretch(1)

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self.load()

    def load(self) -> None:
        while self.form.count():
            item = self.form.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.editors = {}
        for row, current in enumerate(self.ops.settings()):
            setting, value, source, editable = config.setting(current.key), current.value, current.source, \
                current.editable
            editor = self._editor(setting, value)
            editor.setEnabled(editable)
            editor.setToolTip(f"{setting.help}\nNow from: {source}" + ("" if editable else
                                                                          "\nChange it there, not here."))
            label = QLabel(f"{setting.help}<br><small><code>{setting.key}</code>"
                           f"{'' if editable else ' (set by ' + source + ')'}</small>", self)
            label.setWordWrap(True)
            self.form.addWidget(label, row, 0)
            self.form.addWidget(editor, row, 1)
            self.editors[setting.key] = (setting, editor)

    def _editor(self, setting: Any, value: Any) -> Any:
        if setting.type is int:
            editor = QSpinBox(self)
            editor.setRange(int(setting.minimum if setting.minimum is not None else 0),
                            int(setting.maximum if setting.maximum is not None else 1_000_000))
            editor.setValue(int(value))
        elif setting.type is float:
            editor = QDoubleSpinBox(self)
            editor.setDecimals(3)
            editor.setRange(float(setting.minimum if setting.minimum is not None else 0.0),
                            float(setting.maximum if setting.maximum is not None else 1e9))
            editor.setValue(float(value))
        else:
            editor = QLineEdit(str(value), self)
            if setting.example:
                editor.setPlaceholderText(f"e.g. {setting.example}")
        editor.setMinimumHeight(40)
        editor.setFixedWidth(220)
        return editor

    def values(self) -> dict[str, Any]:
        values = {}
        for key, (_setting, editor) in self.editors.items():
            if editor.isEnabled():
                values[key] = editor.text() if isinstance(editor, QLineEdit) else editor.value()
        return values

    def save(self) -> None:
        if self.ops is None:
            return
        try:
            changed = self.ops.change_settings(self.values())
        except (PermissionError, ValueError) as exc:
            self.message.setStyleSheet("color: #b3261e")
            self.message.setText(str(exc))
            return
        self.message.setStyleSheet("")
        self.message.setText("Saved and applied: " + ", ".join(f"{k} = {v!r}" for k, v in changed.items())
                             if changed else "Nothing changed.")
        if changed:
            self.changed.emit(changed)
