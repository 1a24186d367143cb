"""The Energy tab: ports with their status, a live graph of the selected ports, history from a day to a year, and
the phantom-load alerts until someone acknowledges them.

Data comes through `ops` (kiosk.client.energy.RemoteEnergy): the live graph pulls the last seconds from the hub's
memory once a second (no signal per reading); the history graph reads the tier that fits the visible range (raw readings
up to an hour, then minute / hour / day rollups) on a background thread whenever the range settles after a zoom or
a pan. pyqtgraph is imported when the tab is first shown; the plots are created once and fed new data.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.energy import PortStatus
from kiosk.protocol.spreadsheet import SafeWriter
from kiosk.ui.widgets.background import Background
from kiosk.ui.widgets.rows_model import Column, RowsModel
from kiosk.ui.widgets.tables import ask_save_path, make_table

LIVE_S = 300.0
COLOURS = ("#1a73e8", "#d93025", "#188038", "#e37400", "#9334e6", "#12b5cb", "#5f6368", "#b06000")
STATUS_WORDS = {PortStatus.ACTIVE: "● in use", PortStatus.IDLE: "◐ standby", PortStatus.PHANTOM: "▲ PHANTOM",
                PortStatus.OFF: "○ off", PortStatus.NO_DATA: "? no data"}
RANGES = (("Hour", 3600), ("Day", 86400), ("Week", 7 * 86400), ("Month", 30 * 86400), ("Year", 365 * 86400))


class EnergyView(QWidget):
    """Signals:
        historyShown(): the history graph shows a newly read range (tests and the benchmark wait for it).
    """

    historyShown = Signal()

    def __init__(self, parent: QWidget | None = None, clock: Any = time.time) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: QWidget | None = None
        self._clock = clock
        self.provider: Any = lambda: None
        self.rows: list[dict[str, Any]] = []
        self.model = RowsModel([
            Column("Port", lambda r: r["name"]),
            Column("Status", lambda r: STATUS_WORDS[r["status"]], lambda r: r["status"].value),
            Column("Now", lambda r: "" if r["watts"] is None else f"{r['watts']:.1f} W",
                   lambda r: r["watts"] or 0.0, align_right=True),
            Column("Today", lambda r: f"{r.get('kwh_today', 0.0):.3f} kWh", lambda r: r.get("kwh_today", 0.0),
                   align_right=True),
            Column("Always on", lambda r: "" if r.get("always_on") is None else f"{r['always_on']:.1f} W",
                   lambda r: r.get("always_on") or 0.0, align_right=True),
            Column("Device", lambda r: r["device"]),
        ], lambda r: r["status"] is PortStatus.PHANTOM, self)
        self.table = make_table(self, self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.empty = QLabel("No energy ports yet. Start the demo devices (Devices tab), plug in a USB energy board, "
                            "or add a port: kiosk port add DEVICE_ID --name \"Desk lamp\".", self)
        self.empty.setWordWrap(True)
        self.alerts_title = QLabel("Alerts", self)
        self.alerts_title.setObjectName("lockerListTitle")
        self.alerts = QListWidget(self)
        self.alerts.setWordWrap(True)
        self.ack_button = QPushButton("&Acknowledge selected alert", self)
        self.ack_button.clicked.connect(self.acknowledge_selected)
        left = QVBoxLayout()
        left.addWidget(self.empty)
        left.addWidget(self.table, 3)
        left.addWidget(self.alerts_title)
        left.addWidget(self.alerts, 2)
        left.addWidget(self.ack_button)
        left_widget = QWidget(self)
        left_widget.setLayout(left)
        left_widget.setMinimumWidth(500)  # port, status, watts, kWh today and always-on readable without scrolling

        self.range_buttons: dict[str, QPushButton] = {}
        controls = QHBoxLayout()
        for label, span in RANGES:
            button = QPushButton(label, self)
            button.clicked.connect(lambda _=False, s=span: self.show_range(s))
            self.range_buttons[label] = button
            controls.addWidget(button)
        controls.addStretch(1)
        self.csv_button = QPushButton("Export &CSV…", self)
        self.csv_button.clicked.connect(lambda: ask_save_path(self, "Export the shown range", "energy.csv",
                                                              self.export_csv))
        self.png_button = QPushButton("Export &PNG…", self)
        self.png_button.clicked.connect(self._ask_png)
        controls.addWidget(self.csv_button)
        controls.addWidget(self.png_button)
        self.readout = QLabel("Select a port to see its graphs.", self)
        self.readout.setObjectName("lockerListTitle")
        self._plots = QVBoxLayout()
        right = QVBoxLayout()
        right.addLayout(self._plots, 1)
        right.addLayout(controls)
        right.addWidget(self.readout)
        right_widget = QWidget(self)
        right_widget.setLayout(right)
        splitter = QSplitter(self)
        splitter.addWidget(left_widget)
        splitter.addWidget(right_widget)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([560, 720])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.live_plot: Any = None
        self.history_plot: Any = None
        self._live_curves: dict[str, Any] = {}
        self._live_newest: dict[str, float | None] = {}
        self._ticks = 0
        self.series: Any = None
        self.background = Background(self)
        self._range_settled = QTimer(self)
        self._range_settled.setSingleShot(True)
        self._range_settled.setInterval(120)
        self._range_settled.timeout.connect(self._load_history)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.tick)
        for widget in (self.table, self.csv_button, self.png_button, self.ack_button, *self.range_buttons.values()):
            widget.setEnabled(False)

    # --- set-up ---------------------------------------------------------------------------------------------------

    def services_ready(self) -> None:
        ops = self.provider()
        if ops is not None:
            self.attach(ops)

    def attach(self, operations: Any) -> None:
        self.ops = operations
        for widget in (self.table, self.csv_button, self.png_button, self.ack_button, *self.range_buttons.values()):
            widget.setEnabled(True)
        self._ticker.start()
        self.tick()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._ensure_plots()
        self._ticks = 0  # alerts are re-read at once when the tab comes back
        self.tick()

    def _ensure_plots(self) -> None:
        if self.live_plot is not None:
            return
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=True, background="w", foreground="#202124")
        self.live_plot = pg.PlotWidget(self, axisItems={"bottom": pg.DateAxisItem()}, title="Live: last 5 minutes")
        self.live_plot.setLabel("left", "power", units="W")
        self.live_plot.addLegend(offset=(10, 10))
        self.live_plot.setMouseEnabled(x=False, y=False)
        self.history_plot = pg.PlotWidget(self, axisItems={"bottom": pg.DateAxisItem()}, title="History")
        self.history_plot.setLabel("left", "power", units="W")
        self.history_plot.setMouseEnabled(x=True, y=False)
        self._band_low = self.history_plot.plot([], [], pen=pg.mkPen("#aecbfa"))
        self._band_high = self.history_plot.plot([], [], pen=pg.mkPen("#aecbfa"))
        self._band = pg.FillBetweenItem(self._band_low, self._band_high, brush=pg.mkBrush("#e8f0fe"))
        self.history_plot.addItem(self._band)
        self._mean = self.history_plot.plot([], [], pen=pg.mkPen("#1a73e8", width=2))
        self._cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#80868b", style=Qt.PenStyle.DashLine))
        self.history_plot.addItem(self._cursor, ignoreBounds=True)
        self.history_plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._range_settled.start())
        self.history_plot.scene().sigMouseMoved.connect(self._hover)
        for plot in (self.live_plot, self.history_plot):
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMinimumHeight(200)
            self._plots.addWidget(plot)

    # --- ports and alerts -----------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second while the tab is on screen: port status and watts, the live curves, the alerts."""
        if self.ops is None or not self.isVisible():
            return
        rows = self.ops.port_rows()
        selected = set(self.selected_ports())
        if [r["id"] for r in rows] != [r["id"] for r in self.model.rows]:
            self.model.set_rows(rows)
            self._reselect(selected)
        elif rows:  # the same ports: their values changed (no ports: nothing to repaint, no invalid range)
            self.model.rows[:] = rows
            self.model.dataChanged.emit(self.model.index(0, 1), self.model.index(len(rows) - 1, 4))
        self.empty.setVisible(not rows)
        self._update_live()
        self._ticks += 1
        if self._ticks % 5 == 1:  # alerts come from the database: every 5 s is soon enough
            self.refresh_alerts()

    def selected_ports(self) -> list[str]:
        indexes = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return [self.model.rows[i.row()]["id"] for i in sorted(indexes, key=lambda i: i.row())
                if i.row() < len(self.model.rows)]

    def select_ports(self, port_ids: list[str]) -> None:
        self._reselect(set(port_ids))

    def _reselect(self, port_ids: set[str]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        for row, data in enumerate(self.model.rows):
            if data["id"] in port_ids:
                selection.select(self.model.index(row, 0), selection.SelectionFlag.Select |
                                 selection.SelectionFlag.Rows)

    def _selection_changed(self) -> None:
        self._ensure_plots()
        if self.live_plot is None:
            return
        wanted = self.selected_ports()
        for port_id in list(self._live_curves):
            if port_id not in wanted:
                self.live_plot.removeItem(self._live_curves.pop(port_id))
                self._live_newest.pop(port_id, None)
        names = {r["id"]: r["name"] for r in self.model.rows}
        for n, port_id in enumerate(wanted):
            if port_id not in self._live_curves:
                import pyqtgraph as pg

                # No antialiasing and no finite check: 16 curves of 300 points redrawn every second (bench/energy.py).
                self._live_curves[port_id] = self.live_plot.plot(
                    [], [], pen=pg.mkPen(COLOURS[n % len(COLOURS)], width=2), name=names.get(port_id, port_id),
                    antialias=False, skipFiniteCheck=True)
        self._update_live()
        if wanted and self.history_plot is not None:
            if self.series is None:
                self.show_range(86400)
            else:
                self._load_history()

    def _update_live(self) -> None:
        if not self._live_curves:
            return
        now = self._clock()
        for port_id, curve in self._live_curves.items():
            points = self.ops.live(port_id, now - LIVE_S)
            newest = points[-1][0] if points else None
            if newest != self._live_newest.get(port_id):  # a silent port's curve is left as it is
                self._live_newest[port_id] = newest
                curve.setData([at for at, _ in points], [p for _, p in points])
        self.live_plot.setXRange(now - LIVE_S, now, padding=0)

    def refresh_alerts(self) -> None:
        """The open alerts from the database (every 5 s, and after an acknowledgement)."""
        alerts = self.ops.notifications()
        ids = [n.id for n in alerts]
        if ids == [self.alerts.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.alerts.count())]:
            return
        self.alerts.clear()
        for note in alerts:
            started = (note.ended_at or note.created_at) - (note.duration_s or 0.0)
            when = time.strftime("%d %b %H:%M", time.localtime(started))
            state = (f"ended after {note.duration_s / 60:.0f} min" if note.ended_at and note.duration_s else
                     "ongoing")
            item = QListWidgetItem(f"{when} · {note.title} ({state})\n{note.detail}")
            item.setData(Qt.ItemDataRole.UserRole, note.id)
            self.alerts.addItem(item)
        self.alerts_title.setText(f"Alerts ({len(alerts)} to acknowledge)" if alerts else "Alerts: none")

    def acknowledge_selected(self) -> None:
        item = self.alerts.currentItem()
        if item is not None and self.ops is not None:
            try:
                self.ops.acknowledge(item.data(Qt.ItemDataRole.UserRole))
            except (ConnectionError, LookupError, PermissionError, ValueError) as exc:
                self.alerts_title.setText(f"The alert was not acknowledged: {exc}")
                return
            self.refresh_alerts()

    # --- history --------------------------------------------------------------------------------------------------

    def show_range(self, span_s: float) -> None:
        """Show the last `span_s` seconds up to now (the buttons); zooming and panning move from there."""
        self._ensure_plots()
        now = self._clock()
        self.history_plot.setXRange(now - span_s, now, padding=0)
        self._load_history()

    def visible_range(self) -> tuple[float, float]:
        low, high = self.history_plot.getViewBox().viewRange()[0]
        return float(low), float(high)

    def _load_history(self) -> None:
        ports = self.selected_ports()
        if not ports or self.ops is None or self.history_plot is None:
            return
        since, until = self.visible_range()
        port_id = ports[0]
        self.background.run(lambda: (port_id, since, until, self.ops.series(port_id, since, until)),
                            self._show_history, self._history_failed)

    def _show_history(self, result: tuple[str, float, float, Any]) -> None:
        port_id, since, until, series = result
        self.series = series
        self._mean.setData(series.xs, series.mean)
        self._band_low.setData(series.xs, series.low)
        self._band_high.setData(series.xs, series.high)
        name = next((r["name"] for r in self.model.rows if r["id"] == port_id), port_id)
        what = {"raw": "each reading", "minute": "per minute", "hour": "per hour", "day": "per day"}[series.tier]
        self.history_plot.setTitle(f"{name}: {what} (mean, with min-max band)")
        self.readout.setText(f"{name}: {series.kwh:.3f} kWh in the shown range ({len(series.xs):,} points, "
                             f"{what}). Drag to pan, wheel to zoom.")
        self.historyShown.emit()

    def _history_failed(self, error: Exception) -> None:
        self.readout.setText(f"The history could not be read: {error}")
        self.historyShown.emit()

    def _hover(self, position: Any) -> None:
        if self.series is None or not self.series.xs:
            return
        point = self.history_plot.getViewBox().mapSceneToView(position)
        import bisect

        index = min(bisect.bisect_left(self.series.xs, point.x()), len(self.series.xs) - 1)
        at = self.series.xs[index]
        self._cursor.setPos(at)
        self.readout.setText(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))}: "
                             f"{self.series.mean[index]:.1f} W (min {self.series.low[index]:.1f}, max "
                             f"{self.series.high[index]:.1f}); {self.series.kwh:.3f} kWh in the shown range")

    def export_csv(self, path: str) -> int:
        if self.series is None:
            return 0
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = SafeWriter(out)
            writer.writerow(["time", "mean_w", "min_w", "max_w", "tier"])
            for at, mean, low, high in zip(self.series.xs, self.series.mean, self.series.low, self.series.high):
                writer.writerow([time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)), round(mean, 3),
                                 round(low, 3), round(high, 3), self.series.tier])
        return len(self.series.xs)

    def _ask_png(self) -> None:
        dialog = ask_save_path(self, "Export the graph", "energy.png", self.export_png)
        dialog.setNameFilter("PNG images (*.png)")
        dialog.setDefaultSuffix("png")

    def export_png(self, path: str) -> None:
        if self.history_plot is None:
            return
        if not self.history_plot.grab().save(path, "PNG"):
            self.dialog = QMessageBox(QMessageBox.Icon.Warning, "Export", f"The image could not be written to "
                                      f"{path}.", QMessageBox.StandardButton.Ok, self)
            self.dialog.open()
