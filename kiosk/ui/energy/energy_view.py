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

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.energy import PortStatus
from kiosk.core.words import plural
from kiosk.protocol.spreadsheet import SafeWriter
from kiosk.ui.widgets.background import Background
from kiosk.ui.widgets.notice_words import moment, notice_state
from kiosk.ui.widgets.rows_model import Column, RowsModel
from kiosk.ui.widgets.tables import ask_save_path, make_table

LIVE_S = 300.0
COLOURS = ("#1a73e8", "#d93025", "#188038", "#e37400", "#9334e6", "#12b5cb", "#5f6368", "#b06000")
STATUS_WORDS = {PortStatus.ACTIVE: "● in use", PortStatus.IDLE: "◐ standby", PortStatus.PHANTOM: "▲ PHANTOM",
                PortStatus.OFF: "○ off", PortStatus.NO_DATA: "? no data"}
RANGES = (("Hour", 3600), ("Day", 86400), ("Week", 7 * 86400), ("Month", 30 * 86400), ("Year", 365 * 86400))
TIER_WORDS = {"raw": "each reading", "minute": "per minute", "hour": "per hour", "day": "per day"}
HISTORY_PORTS = len(COLOURS)  # the history graph shows this many of the selected ports (the live graph all)
MARKERS_UP_TO = 120  # a curve of this many points or fewer shows each point as a dot
EMPTY_TEXT = ("No energy ports yet. A port appears here by itself the first time an energy meter reports it: plug a "
              "USB energy board into this computer, or add an energy meter on Admin > Devices and switch it on. "
              "To see how it looks first, press Start demo devices on Admin > Devices.")
PICK_TEXT = ("Pick a port on the left to see its power: live for the last 5 minutes, and its history from an hour "
             "to a year.\n\nCtrl+click or Shift+click picks several ports to compare them.")


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
        header = self.table.horizontalHeader()  # a few dozen ports: every column fitted to what it holds
        header.setStretchLastSection(False)
        for column in range(self.model.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel(EMPTY_TEXT, self)
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
        left_widget.setMinimumWidth(360)

        self.range_buttons: dict[str, QPushButton] = {}
        controls = QHBoxLayout()
        for label, span in RANGES:
            button = QPushButton(label, self)
            button.setCheckable(True)  # the range on screen shows as pressed, until a zoom or a pan leaves it
            button.setToolTip(f"Show the last {label.lower()} up to now")
            button.clicked.connect(lambda _=False, s=span: self.show_range(s))
            self.range_buttons[label] = button
            controls.addWidget(button)
        controls.addStretch(1)
        self.csv_button = QPushButton("Export &CSV…", self)
        self.csv_button.setToolTip("Save the shown range of the selected ports as a spreadsheet (CSV)")
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button = QPushButton("Export &PNG…", self)
        self.png_button.setToolTip("Save the history graph as an image")
        self.png_button.clicked.connect(self._ask_png)
        controls.addWidget(self.csv_button)
        controls.addWidget(self.png_button)
        self.readout = QLabel("", self)
        self.readout.setObjectName("lockerListTitle")
        self.readout.setWordWrap(True)
        self.pointer = QLabel("", self)  # the values under the mouse: stays while the mouse stays on the graph
        self.pointer.setWordWrap(True)
        self.saved = QLabel("", self)  # where the last export went
        self.saved.setWordWrap(True)
        self.saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.readout, self.pointer):  # room for two lines whatever they say: the graphs above keep
            label.setMinimumHeight(2 * label.fontMetrics().lineSpacing() + 4)  # their size (a resize redraws all)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._plots = QVBoxLayout()
        graphs = QVBoxLayout()
        graphs.setContentsMargins(0, 0, 0, 0)
        graphs.addLayout(self._plots, 1)
        graphs.addLayout(controls)
        graphs.addWidget(self.readout)
        graphs.addWidget(self.pointer)
        graphs.addWidget(self.saved)
        self.graphs = QWidget(self)
        self.graphs.setLayout(graphs)
        self.pick = QLabel(PICK_TEXT, self)  # before a port is picked: what to do, not empty axes
        self.pick.setObjectName("emptyState")
        self.pick.setWordWrap(True)
        self.pick.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.right = QStackedWidget(self)
        self.right.addWidget(self.pick)
        self.right.addWidget(self.graphs)
        splitter = QSplitter(self)
        splitter.addWidget(left_widget)
        splitter.addWidget(self.right)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([520, 720])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._colours: dict[str, str] = {}  # port -> its colour, kept while the program runs
        self._span: float | None = None  # the range button's span on screen (None: a zoom or a pan left it)
        self._shown_at = 0.0  # when that range was shown (its end was "now" then)
        self._mouse: Any = None  # the last mouse position over the history graph
        self.history: dict[str, Any] = {}  # port -> its Series in the shown range, in the selection's order
        self.live_plot: Any = None
        self.history_plot: Any = None
        self._live_curves: dict[str, Any] = {}
        self._live_newest: dict[str, float | None] = {}
        self._ticks = 0
        self._alerts_shown: list[tuple[int, float | None, str]] = []
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
        self.history_legend = self.history_plot.addLegend(offset=(10, 10))
        self._band_low = self.history_plot.plot([], [], pen=pg.mkPen("#aecbfa"))
        self._band_high = self.history_plot.plot([], [], pen=pg.mkPen("#aecbfa"))
        self._band = pg.FillBetweenItem(self._band_low, self._band_high, brush=pg.mkBrush("#e8f0fe"))
        self.history_plot.addItem(self._band)
        self._history_curves: dict[str, Any] = {}
        self._cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#80868b", style=Qt.PenStyle.DashLine))
        self._cursor.hide()
        self.history_plot.addItem(self._cursor, ignoreBounds=True)
        self.history_plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._range_settled.start())
        self.history_plot.scene().sigMouseMoved.connect(self._hover)
        self.history_plot.viewport().installEventFilter(self)  # the mouse leaving the graph clears the read-out
        for plot in (self.live_plot, self.history_plot):
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMinimumHeight(160)
            self._plots.addWidget(plot)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if event.type() == QEvent.Type.Leave and self.history_plot is not None and \
                watched is self.history_plot.viewport():
            self._mouse = None
            self._cursor.hide()
            self.pointer.setText("")
        return super().eventFilter(watched, event)

    def colour(self, port_id: str) -> str:
        """A port's colour, the same in the live graph, the history and the legend for as long as the program runs:
        the first colour no other port on screen has."""
        if port_id not in self._colours:
            taken = {self._colours.get(p) for p in self.selected_ports() if p != port_id}
            free = [c for c in COLOURS if c not in taken]
            self._colours[port_id] = free[0] if free else COLOURS[len(self._colours) % len(COLOURS)]
        return self._colours[port_id]

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
        wanted = self.selected_ports()
        self.right.setCurrentWidget(self.graphs if wanted else self.pick)
        self._ensure_plots()
        if self.live_plot is None:
            return
        for port_id in list(self._live_curves):
            if port_id not in wanted:
                self.live_plot.removeItem(self._live_curves.pop(port_id))
                self._live_newest.pop(port_id, None)
        names = {r["id"]: r["name"] for r in self.model.rows}
        for port_id in wanted:
            if port_id not in self._live_curves:
                import pyqtgraph as pg

                # No antialiasing and no finite check: 16 curves of 300 points redrawn every second (bench/energy.py).
                self._live_curves[port_id] = self.live_plot.plot(
                    [], [], pen=pg.mkPen(self.colour(port_id), width=2), name=names.get(port_id, port_id),
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
        shown = [(n.id, n.ended_at, n.title) for n in alerts]  # an alert that ends is said again
        if shown == self._alerts_shown:
            return
        self._alerts_shown = shown
        self.alerts.clear()
        for note in alerts:
            started = (note.ended_at or note.created_at) - (note.duration_s or 0.0)
            item = QListWidgetItem(f"{moment(started)} · {note.title} ({notice_state(note)})\n{note.detail}")
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
        self._span, self._shown_at = span_s, now
        self.history_plot.setXRange(now - span_s, now, padding=0)
        self._mark_range()
        self._load_history()

    def _mark_range(self) -> None:
        """The button of the range on screen pressed; none once a zoom or a pan has left it."""
        if self._span is not None and self.history_plot is not None:
            low, high = self.visible_range()
            if abs((high - low) - self._span) > 0.01 * self._span or abs(high - self._shown_at) > 0.01 * self._span:
                self._span = None
        for label, span in RANGES:
            self.range_buttons[label].setChecked(span == self._span)

    def visible_range(self) -> tuple[float, float]:
        low, high = self.history_plot.getViewBox().viewRange()[0]
        return float(low), float(high)

    def _load_history(self) -> None:
        self._mark_range()
        ports = self.selected_ports()[:HISTORY_PORTS]
        if not ports or self.ops is None or self.history_plot is None:
            return
        since, until = self.visible_range()
        ops = self.ops
        self.background.run(lambda: (since, until, {p: ops.series(p, since, until) for p in ports}),
                            self._show_history, self._history_failed)

    def _show_history(self, result: tuple[float, float, dict[str, Any]]) -> None:
        import pyqtgraph as pg

        since, until, history = result
        history = {p: series for p, series in history.items() if p in self.selected_ports()}
        self.history = history
        self.range_shown = (since, until)
        self.series = next(iter(history.values()), None)
        names = {r["id"]: r["name"] for r in self.model.rows}
        for port_id in [p for p in self._history_curves if p not in history]:
            self.history_plot.removeItem(self._history_curves.pop(port_id))
        for port_id, series in history.items():
            curve = self._history_curves.get(port_id)
            if curve is None:
                curve = self._history_curves[port_id] = self.history_plot.plot(
                    [], [], pen=pg.mkPen(self.colour(port_id), width=2), name=names.get(port_id, port_id))
            few = len(series.xs) <= MARKERS_UP_TO  # a week of daily means is 7 points: each one shown
            curve.setData(series.xs, series.mean, symbol="o" if few else None, symbolSize=7,
                          symbolBrush=self.colour(port_id), symbolPen=None)
        single = len(history) == 1 and self.series is not None  # the min-max band of one port; several: the means
        self._band_low.setData(self.series.xs if single else [], self.series.low if single else [])
        self._band_high.setData(self.series.xs if single else [], self.series.high if single else [])
        if self.series is None:
            self.historyShown.emit()
            return
        what = TIER_WORDS[self.series.tier]
        points = sum(len(s.xs) for s in history.values())
        if single:
            name = names.get(next(iter(history)), "")
            self.history_plot.setTitle(f"{name}: {what} (mean, with min-max band)")
        else:
            self.history_plot.setTitle(f"{len(history)} ports: {what} (mean)")
        energy = "; ".join(f"{names.get(p, p)} {s.kwh:.3f} kWh" for p, s in history.items())
        more = len(self.selected_ports()) - len(history)
        self.readout.setText(f"{energy} in the shown range ({plural(points, 'point')}, {what})."
                             + (f" The history shows the first {len(history)} selected ports." if more > 0 else "")
                             + " Drag to pan, wheel to zoom.")
        if self._mouse is not None:
            self._hover(self._mouse)  # the read-out follows the new data under a mouse that stayed
        self.historyShown.emit()

    def _history_failed(self, error: Exception) -> None:
        self.readout.setText(f"The history could not be read: {error}")
        self.historyShown.emit()

    def _hover(self, position: Any) -> None:
        if not self.history or self.history_plot is None:
            return
        if not self.history_plot.getViewBox().sceneBoundingRect().contains(position):
            return
        self._mouse = position
        point = self.history_plot.getViewBox().mapSceneToView(position)
        import bisect

        names = {r["id"]: r["name"] for r in self.model.rows}
        parts, at = [], None
        for port_id, series in self.history.items():
            if not series.xs:
                continue
            index = min(bisect.bisect_left(series.xs, point.x()), len(series.xs) - 1)
            if index > 0 and abs(series.xs[index - 1] - point.x()) < abs(series.xs[index] - point.x()):
                index -= 1
            at = series.xs[index] if at is None else at
            parts.append(f"{names.get(port_id, port_id)} {series.mean[index]:.1f} W (min {series.low[index]:.1f}, "
                         f"max {series.high[index]:.1f})")
        if at is None:
            return
        self._cursor.setPos(at)
        self._cursor.show()
        self.pointer.setText(f"{time.strftime('%a %d %b %Y %H:%M:%S', time.localtime(at))}: " + "; ".join(parts))

    def export_name(self, suffix: str) -> str:
        """The file an export suggests: the ports and the range, e.g. desk-lamp_week_2026-12-03.csv."""
        names = {r["id"]: r["name"] for r in self.model.rows}
        ports = [names.get(p, p) for p in self.history] or ["energy"]
        label = next((label for label, span in RANGES if span == self._span), None)
        since, until = getattr(self, "range_shown", (self._clock(), self._clock()))
        when = (f"{label.lower()}_{time.strftime('%Y-%m-%d', time.localtime(until))}" if label else
                f"{time.strftime('%Y-%m-%d-%H%M', time.localtime(since))}_to_"
                f"{time.strftime('%Y-%m-%d-%H%M', time.localtime(until))}")
        stem = "+".join(slug(p) for p in ports[:3]) + ("+more" if len(ports) > 3 else "")
        return f"{stem}_{when}.{suffix}"

    def export_csv(self, path: str) -> int:
        """The shown range of every port in the history, one row per port and point, with names and units."""
        if not self.history:
            return 0
        names = {r["id"]: r["name"] for r in self.model.rows}
        written = 0
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = SafeWriter(out)
            writer.writerow(["port", "time", "mean (W)", "min (W)", "max (W)", "resolution"])
            for port_id, series in self.history.items():
                for at, mean, low, high in zip(series.xs, series.mean, series.low, series.high):
                    writer.writerow([names.get(port_id, port_id), time.strftime("%Y-%m-%d %H:%M:%S",
                                                                                time.localtime(at)),
                                     round(mean, 3), round(low, 3), round(high, 3), TIER_WORDS[series.tier]])
                    written += 1
        return written

    def _ask_csv(self) -> None:
        def save(path: str) -> None:
            try:
                rows = self.export_csv(path)
            except OSError as exc:
                self._say_saved(f"The CSV could not be written to {path}: {exc.strerror or exc}")
                return
            self._say_saved(f"Saved {plural(rows, 'row')} to {path}")

        ask_save_path(self, "Export the shown range", self.export_name("csv"), save)

    def _ask_png(self) -> None:
        def save(path: str) -> None:
            if self.export_png(path):
                self._say_saved(f"Saved the graph to {path}")

        dialog = ask_save_path(self, "Export the graph", self.export_name("png"), save)
        dialog.setNameFilter("PNG images (*.png)")
        dialog.setDefaultSuffix("png")

    def _say_saved(self, text: str) -> None:
        self.saved.setText(text)

    def export_png(self, path: str) -> bool:
        if self.history_plot is None:
            return False
        if not self.history_plot.grab().save(path, "PNG"):
            self.dialog = QMessageBox(QMessageBox.Icon.Warning, "Export", f"The image could not be written to "
                                      f"{path}.", QMessageBox.StandardButton.Ok, self)
            self.dialog.open()
            return False
        return True


def slug(name: str) -> str:
    """A port's name as part of a file name: "Desk lamp (west)" -> "desk-lamp-west"."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())[:40] or "port"

