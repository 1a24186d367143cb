"""Locker figures: counts now, assignments per day, average duration, busiest hours; CSV export.

The figures are read off the GUI thread (a year of a busy desk is several hundred thousand rows). pyqtgraph is
imported when the page is first shown, not at start-up. The two plots are created once and fed new data.

Signals:
    computed(): new figures are on screen (tests and the benchmark wait for it).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.lockers import LockerStatistics, describe_duration
from kiosk.ui.widgets.background import Background
from kiosk.ui.widgets.tables import ask_save_path

RANGES = (("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("Last 365 days", 365),
          ("All time", -1))


def range_for(days: int, now: float) -> tuple[float, float]:
    """[since, until) for a choice: 0 = today since midnight, -1 = all time, else that many days up to now."""
    today = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if days < 0:
        return 0.0, now + 1
    return (today - timedelta(days=max(0, days - 1))).timestamp(), now + 1


class FiguresPage(QWidget):
    computed = Signal()

    def __init__(self, parent: QWidget | None = None, clock: Any = time.time) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: QWidget | None = None
        self.stale = True
        self.figures: LockerStatistics | None = None
        self._clock = clock
        self.range = QComboBox(self)
        for label, days in RANGES:
            self.range.addItem(label, days)
        self.range.setCurrentIndex(2)
        self.range.currentIndexChanged.connect(lambda _i: self.refresh())
        self.export_button = QPushButton("&Export figures (CSV)…", self)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: ask_save_path(
            self, "Export the locker figures", f"locker-figures-{time.strftime('%Y-%m-%d')}.csv", self.export_to))
        top = QHBoxLayout()
        top.addWidget(QLabel("Assignments made:", self))
        top.addWidget(self.range)
        top.addStretch(1)
        top.addWidget(self.export_button)
        self.now_labels: dict[str, QLabel] = {}
        now_row = QHBoxLayout()
        for key in ("free", "in use", "overdue", "out of order"):
            label = QLabel("–", self)
            label.setObjectName("lockerFigure")
            self.now_labels[key] = label
            now_row.addWidget(label)
        self.totals = QLabel("", self)
        self.totals.setWordWrap(True)
        self.totals.setObjectName("lockerListTitle")
        self._plots = QGridLayout()
        self.per_day_plot: Any = None
        self.per_hour_plot: Any = None
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(now_row)
        layout.addWidget(self.totals)
        layout.addLayout(self._plots, 1)
        self.background = Background(self)

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self.export_button.setEnabled(True)

    def _ensure_plots(self) -> None:
        if self.per_day_plot is not None:
            return
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=True, background="w", foreground="#202124")
        self.per_day_plot = pg.PlotWidget(self, axisItems={"bottom": pg.DateAxisItem()}, title="Assignments per day")
        self.per_hour_plot = pg.PlotWidget(self, title="By hour of day (busiest hours)")
        for plot in (self.per_day_plot, self.per_hour_plot):
            plot.setMouseEnabled(x=True, y=False)
            plot.showGrid(y=True, alpha=0.3)
            plot.setMinimumHeight(220)
        self.per_hour_plot.setXRange(-0.5, 23.5)
        self._day_bars = pg.BarGraphItem(x=[], height=[], width=0.8 * 86400, brush="#1a73e8", pen=None)
        self._hour_bars = pg.BarGraphItem(x=list(range(24)), height=[0] * 24, width=0.8, brush="#188038", pen=None)
        self.per_day_plot.addItem(self._day_bars)
        self.per_hour_plot.addItem(self._hour_bars)
        self._plots.addWidget(self.per_day_plot, 0, 0)
        self._plots.addWidget(self.per_hour_plot, 0, 1)

    def refresh(self) -> None:
        if self.ops is None:
            return
        self._ensure_plots()
        self.stale = False
        since, until = range_for(self.range.currentData(), self._clock())
        self.totals.setText("Counting…")
        self.background.run(lambda: self.ops.statistics(since, until), self._show, self._failed)

    def _show(self, figures: LockerStatistics) -> None:
        self.figures = figures
        counts = figures.now
        for key, value in (("free", counts.free), ("in use", counts.in_use), ("overdue", counts.overdue),
                           ("out of order", counts.out_of_order)):
            self.now_labels[key].setText(f"{value}\n{key} now")
        average = ("" if figures.average_duration_s is None else
                   f" Lockers were held {describe_duration(figures.average_duration_s)} on average.")
        busiest = ", ".join(f"{h:02d}:00–{(h + 1) % 24:02d}:00" for h in figures.busiest_hours)
        self.totals.setText(f"{figures.assignments:,} assignments.{average}"
                            + (f" Busiest hours: {busiest}." if busiest else "")
                            + f" {figures.forced} forced releases, {figures.overdue_released} overdue releases.")
        days = [datetime.strptime(day, "%Y-%m-%d").timestamp() + 43200 for day, _ in figures.per_day]
        self._day_bars.setOpts(x=days, height=[n for _, n in figures.per_day])
        self._hour_bars.setOpts(x=list(range(24)), height=figures.per_hour)
        if days:
            self.per_day_plot.setXRange(min(days) - 86400, max(days) + 86400, padding=0)
        self.per_day_plot.enableAutoRange(axis="y")
        self.per_hour_plot.enableAutoRange(axis="y")
        self.computed.emit()

    def _failed(self, error: Exception) -> None:
        self.totals.setText(f"The figures could not be computed: {error}")
        self.computed.emit()

    def export_to(self, path: str) -> None:
        if self.figures is None:
            return
        try:
            with open(path, "w", newline="", encoding="utf-8") as out:
                self.ops.export_statistics(self.figures, out)
        except OSError as exc:
            self.dialog = QMessageBox(QMessageBox.Icon.Warning, "Export", f"The figures could not be written: {exc}",
                                      QMessageBox.StandardButton.Ok, self)
            self.dialog.open()
