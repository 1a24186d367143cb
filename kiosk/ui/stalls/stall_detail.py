"""One stall in detail: its state and why, its sensors (type, IP, last seen), their last messages, today's timeline.

A legacy StallSense board can be sent its Wi-Fi reset from here, after the admin PIN and a confirmation; the hub
writes it to the audit log.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.stalls import StallState
from kiosk.core.words import plural
from kiosk.ui.stalls.restroom_editor import sensor_type
from kiosk.ui.stalls.wifi_reset import confirm_wifi_reset, send_wifi_reset
from kiosk.ui.widgets.pin_dialog import AdminPin, ask_admin
from kiosk.ui.widgets.stall_tile import STYLES, ago


def clock_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S")


class TimelineBar(QWidget):
    """Today from midnight to midnight: each stretch up to now coloured by the state shown then, a line at now,
    the rest of the day left blank (it has not happened yet). Hour labels every 3 hours, none cut at the ends."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(44)
        self.changes: list[tuple[float, str]] = []
        self.start = self.end = self.now = 0.0

    def show_day(self, changes: list[tuple[float, str]], start: float, end: float, now: float | None = None) -> None:
        self.changes, self.start, self.end = changes, start, end
        self.now = min(end, now if now is not None else time.time())
        self.update()

    def x_of(self, at: float) -> float:
        area = self.area()
        return area.x() + (at - self.start) / max(self.end - self.start, 1.0) * area.width()

    def area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(14, 4, -14, -18)  # room for the first and the last hour label

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        area = self.area()
        painter.fillRect(area, QColor("#f1f3f4"))
        past = QRectF(area.x(), area.y(), self.x_of(self.now) - area.x(), area.height())
        painter.fillRect(past, QColor("#e0e0e0"))  # before the first change today: not known
        for index, (ts, state) in enumerate(self.changes):
            until = min(self.changes[index + 1][0] if index + 1 < len(self.changes) else self.now, self.now)
            x0, x1 = self.x_of(max(ts, self.start)), self.x_of(until)
            if x1 > x0:
                painter.fillRect(QRectF(x0, area.y(), max(1.0, x1 - x0), area.height()),
                                 QColor(STYLES[StallState(state)].background))
        painter.setPen(QPen(QColor("#202124"), 2))
        painter.drawLine(QPointF(self.x_of(self.now), area.top() - 3), QPointF(self.x_of(self.now), area.bottom()))
        painter.setPen(QColor("#202124"))
        for hour in range(0, 25, 3):
            x = area.x() + hour / 24 * area.width()
            painter.drawText(QRectF(x - 14, area.bottom() + 2, 28, 14), Qt.AlignmentFlag.AlignCenter, f"{hour:02d}")
        painter.end()


class StallDetail(QDialog):
    def __init__(self, operations: Any, pin: AdminPin, place: Any, view: Any,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops, self.pin, self.place = operations, pin, place
        self.setWindowTitle(f"{place.restroom} / stall {place.label}")
        self.resize(820, 600)
        word = STYLES[view.state].word
        self.heading = QLabel(f"<h2>{place.restroom}, stall {place.label}: {word}</h2>"
                              f"<p>{view.reason}, since {clock_time(view.since)}</p>", self)
        self.sensors = QTreeWidget(self)
        self.sensors.setRootIsDecorated(False)
        self.sensors.setHeaderLabels(["Sensor", "Watches as", "Type", "IP", "Last seen", "Messages", "Rejected"])
        for column, width in enumerate((160, 100, 190, 110, 90, 80)):
            self.sensors.setColumnWidth(column, width)
        self.reset_button = QPushButton("Reset Wi-Fi of selected board…", self)
        self.reset_button.setEnabled(False)
        self.reset_button.clicked.connect(self._ask_reset)
        self.sensors.currentItemChanged.connect(self._sensor_selected)
        self.messages = QTreeWidget(self)
        self.messages.setRootIsDecorated(False)
        self.messages.setHeaderLabels(["Time", "Sensor", "Said"])
        self.messages.setColumnWidth(1, 180)
        self.timeline = TimelineBar(self)
        self.changes = QLabel(self)
        self.changes.setWordWrap(True)
        self.status = QLabel("", self)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(QLabel("<b>Sensors</b>", self))
        layout.addWidget(self.sensors)
        row = QHBoxLayout()
        row.addWidget(self.reset_button)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        layout.addWidget(QLabel("<b>Last messages</b>", self))
        layout.addWidget(self.messages)
        layout.addWidget(QLabel("<b>Today</b>", self))
        layout.addWidget(self.timeline)
        layout.addWidget(self.changes)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.refresh()

    def refresh(self) -> None:
        now = time.time()
        stall = next((s for r in self.ops.restrooms() for s in r.stalls if s.id == self.place.stall_id), None)
        sensors = list(stall.sensors) if stall else []
        names = {s.device_id: s.name for s in sensors}
        self.sensors.clear()
        for sensor in sensors:
            snap = self.ops.device(sensor.device_id)
            seen = ago(now - snap.last_seen) if snap and snap.last_seen else "never"
            row = QTreeWidgetItem([sensor.name, sensor.role.value if sensor.role else "", sensor_type(sensor.model,
                                   sensor.kind), (snap.ip if snap and snap.ip else sensor.ip) or "", seen,
                                   str(snap.received if snap else 0), str(snap.rejected if snap else 0)])
            row.setData(0, Qt.ItemDataRole.UserRole, (sensor.device_id, sensor.kind))
            self.sensors.addTopLevelItem(row)
        self.messages.clear()
        for ts, device_id, said in self.ops.recent_readings(list(names)):
            self.messages.addTopLevelItem(QTreeWidgetItem([clock_time(ts), names.get(device_id, device_id), said]))
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        day = self.ops.timeline(self.place.stall_id, midnight, now + 1)
        self.timeline.show_day([(ts, state) for ts, state, _ in day], midnight, midnight + 86400, now)
        uses = sum(1 for _, state, _ in day if state == StallState.OCCUPIED.value)
        listed = ", ".join(f"{clock_time(ts)} {STYLES[StallState(state)].word.lower()}" for ts, state, _ in day[-8:])
        self.changes.setText(f"{plural(uses, 'use')} today. Latest changes: {listed or 'none today'}.")

    def _sensor_selected(self) -> None:
        item = self.sensors.currentItem()
        self.reset_button.setEnabled(bool(item) and item.data(0, Qt.ItemDataRole.UserRole)[1] == "stallsense")

    def _ask_reset(self) -> None:
        item = self.sensors.currentItem()
        if item is None:
            return
        device_id, name = item.data(0, Qt.ItemDataRole.UserRole)[0], item.text(0)
        ask_admin(self.pin, f"reset the Wi-Fi of {name}", self,
                  lambda: confirm_wifi_reset(self, name, lambda: self.reset(device_id, name)))

    def reset(self, device_id: str, name: str) -> None:
        self.status.setText(send_wifi_reset(self.ops, device_id, name))
