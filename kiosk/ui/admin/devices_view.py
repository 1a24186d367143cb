"""The Devices tab: every known device, live; an empty state that says what to do next."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.admin.devices_model import DevicesModel

EMPTY_TEXT = """<h2>No devices yet</h2>
<p>Devices appear here as soon as they are registered, and update live when they publish.</p>
<p><b>Add a real device</b> with <b>Add device…</b> above: give it a name and a kind (a stall sensor, an energy meter,
an ESP32 board, a desk station or a wall display). The hub shows its id and its token once, with a QR code for
the device's setup; the device logs in to this hub's MQTT broker with them (username = device id, password = token).</p>
<p><b>Or try it out</b> with demo devices: stall sensors, energy meters and an ESP32, provisioned with real
tokens.</p>
"""


class DevicesView(QWidget):
    """Signals:
        demoRequested(): the user asked for the demo devices.
    """

    demoRequested = Signal()

    def __init__(self, model: DevicesModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self._empty_page())
        self._stack.addWidget(self._table_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        model.rowsInserted.connect(self._show_table)
        # The summary counts every device: recomputed at most four times a second and only while the tab is seen
        # (per dataChanged it made a batch of 100 updates cost 49 ms with 500 devices: bench/stalls.py).
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(250)
        self._summary_timer.timeout.connect(self._update_summary)
        model.dataChanged.connect(self._summary_changed)
        model.rowsInserted.connect(self._summary_changed)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()
        self._show_table()

    def _empty_page(self) -> QWidget:
        page = QWidget(self)
        text = QLabel(EMPTY_TEXT, page)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.setFixedWidth(640)
        self.demo_button = QPushButton("Start demo devices", page)
        self.demo_button.setMinimumHeight(48)
        self.demo_button.setEnabled(False)
        self.demo_button.setToolTip("Available once the broker and database are running")
        self.demo_button.clicked.connect(self._demo_clicked)
        column = QVBoxLayout()
        column.addWidget(text)
        column.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(column)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def _table_page(self) -> QWidget:
        page = QWidget(self)
        self.filter = QLineEdit(page)
        self.filter.setPlaceholderText("Filter devices: name, kind, state, IP, MAC, firmware, rejection")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumHeight(36)
        self.filter.textChanged.connect(self.model.set_filter)
        self.summary = QLabel(page)
        self.table = QTableView(page)
        self.table.setModel(self.model)  # the model filters and sorts itself (see DevicesModel)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(36)
        header = self.table.horizontalHeader()
        # Not ResizeToContents: that re-measures every cell of every row on each update (48,739 data() calls for
        # one changed device out of 500). Columns are fitted when devices are added, at most twice a second, from
        # 60 rows (200 cost 90 ms with 2,000 devices); not after a filter change (bench/admin.py).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(60)
        header.setStretchLastSection(True)
        self._fit_columns = QTimer(self)
        self._fit_columns.setSingleShot(True)
        self._fit_columns.setInterval(500)
        self._fit_columns.timeout.connect(self.table.resizeColumnsToContents)
        self.model.rowsInserted.connect(self._fit_columns.start)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.summary)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(self.table)
        return page

    def services_ready(self) -> None:
        self.demo_button.setEnabled(True)
        self.demo_button.setToolTip("")

    def _demo_clicked(self) -> None:
        self.demo_button.setEnabled(False)
        self.demo_button.setText("Starting demo devices…")
        self.demoRequested.emit()

    def _show_table(self) -> None:
        self._stack.setCurrentIndex(1 if self.model.total() else 0)

    def _summary_changed(self) -> None:
        if not self._summary_timer.isActive():
            self._summary_timer.start()

    def _update_summary(self) -> None:
        if not self.isVisible():
            return  # showEvent brings it up to date
        counts = self.model.state_counts()
        total = sum(counts.values())
        parts = [f"{total} device{'s' if total != 1 else ''}"]
        parts += [f"{n} {word}" for word, n in counts.items() if n]
        self.summary.setText("  ·  ".join(parts))

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        """Sorting follows live updates only while the list is seen: a hidden tab re-sorting 500 rows on every
        reading stalled the GUI thread (bench/stalls.py)."""
        self.model.set_live_sort(True)
        if event is not None:
            super().showEvent(event)
        self._update_summary()

    def hideEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.model.set_live_sort(False)
        super().hideEvent(event)

    def _tick(self) -> None:
        if self.isVisible():
            self.model.refresh_times()

    @property
    def showing_empty_state(self) -> bool:
        return self._stack.currentIndex() == 0
