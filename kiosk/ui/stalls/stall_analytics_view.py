"""Occupancy figures over a chosen range: per stall uses, uses per hour and average time in use, and a heat map of
the busiest hours by weekday."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.stall_analytics import Occupancy, occupancy

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
RANGES = [("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("Last 365 days", 365)]


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


class HeatMap(QWidget):
    """Weekdays down, hours across; darker is busier; each cell also shows its number (not colour alone)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heat = [[0] * 24 for _ in range(7)]
        self.setMinimumHeight(230)

    def sizeHint(self) -> QSize:
        return QSize(900, 240)

    def show_heat(self, heat: list[list[int]]) -> None:
        self.heat = heat
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        left, top = 44.0, 20.0
        cell_w = (self.width() - left - 4) / 24
        cell_h = (self.height() - top - 4) / 7
        peak = max(max(row) for row in self.heat) or 1
        for hour in range(24):
            painter.setPen(QColor("#202124"))
            painter.drawText(QRectF(left + hour * cell_w, 0, cell_w, top), Qt.AlignmentFlag.AlignCenter,
                             f"{hour:02d}")
        for day, row in enumerate(self.heat):
            painter.setPen(QColor("#202124"))
            painter.drawText(QRectF(0, top + day * cell_h, left - 6, cell_h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, DAYS[day])
            for hour, uses in enumerate(row):
                share = uses / peak
                shade = QColor.fromHsvF(0.58, 0.15 + 0.85 * share, 0.98 - 0.55 * share)
                cell = QRectF(left + hour * cell_w + 1, top + day * cell_h + 1, cell_w - 2, cell_h - 2)
                painter.fillRect(cell, shade if uses else QColor("#f1f3f4"))
                if uses:
                    painter.setPen(QColor("#ffffff" if share > 0.5 else "#202124"))
                    painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(uses))
        painter.end()


class StallAnalytics(QDialog):
    def __init__(self, operations: Any, places: dict[int, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops, self.places = operations, places
        self.setWindowTitle("Stall occupancy")
        self.resize(1000, 640)
        self.range = QComboBox(self)
        for text, days in RANGES:
            self.range.addItem(text, days)
        self.range.currentIndexChanged.connect(self.refresh)
        self.table = QTreeWidget(self)
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels(["Restroom", "Stall", "Uses", "Uses per hour", "Average time in use",
                                    "Time in use"])
        for column, width in enumerate((220, 80, 80, 140, 180)):
            self.table.setColumnWidth(column, width)
        self.heat = HeatMap(self)
        self.busiest = QLabel(self)
        self.busiest.setWordWrap(True)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        top = QHBoxLayout()
        top.addWidget(QLabel("Range:", self))
        top.addWidget(self.range)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel("<b>Uses started, by weekday and hour</b>", self))
        layout.addWidget(self.heat)
        layout.addWidget(self.busiest)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.result: Occupancy | None = None
        self.refresh()

    def refresh(self) -> None:
        until = time.time()
        since = until - self.range.currentData() * 86400
        self.result = occupancy(self.ops.events(since, until), since, until)
        self.table.clear()
        for stall_id, place in sorted(self.places.items(), key=lambda kv: (kv[1].restroom_position, kv[1].position)):
            figures = self.result.stalls.get(stall_id)
            uses = figures.uses if figures else 0
            row = QTreeWidgetItem([place.restroom, place.label, str(uses),
                                   f"{figures.uses_per_hour:.2f}" if figures else "0.00",
                                   minutes(figures.mean_use_s if figures else None),
                                   f"{(figures.occupied_s if figures else 0) / 3600:.1f} h"])
            self.table.addTopLevelItem(row)
        self.heat.show_heat(self.result.heat)
        top = self.result.busiest(3)
        self.busiest.setText("Busiest: " + "; ".join(f"{DAYS[d]} {h:02d}:00-{h + 1:02d}:00 ({n} uses)"
                                                     for d, h, n in top) if top else
                             "No uses recorded in this range yet.")
