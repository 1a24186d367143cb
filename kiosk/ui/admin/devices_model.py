"""Table model of devices keyed by id: one `dataChanged` per changed row, `beginInsertRows` for new ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QColor

from kiosk.core.devices import DeviceSnapshot, Online

COLUMNS = ("Device", "Kind", "State", "Last seen", "Received", "Rejected", "Last rejection")
STATE_COLUMN, SEEN_COLUMN = 2, 3
STATE_STYLE = {  # word, symbol, colour: never colour alone
    "online": ("Online", "●", QColor("#1b7f3a")),
    "no signal": ("No signal", "◍", QColor("#b3261e")),
    "offline": ("Offline", "○", QColor("#8a4b00")),
    "never": ("Never seen", "◌", QColor("#5f6368")),
    "revoked": ("Revoked", "✕", QColor("#5f6368")),
}
SortKey = Any
Index = QModelIndex | QPersistentModelIndex


def ago(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def state_key(snap: DeviceSnapshot) -> str:
    if snap.revoked:
        return "revoked"
    return {Online.ONLINE: "online", Online.OFFLINE: "offline", Online.NO_SIGNAL: "no signal",
            Online.NEVER: "never"}[snap.online]


class DevicesModel(QAbstractTableModel):
    """Every device the hub knows; the rows shown are those matching the filter, in the chosen order.

    The model filters and sorts itself (plain Python over precomputed keys): a QSortFilterProxyModel asked `data()`
    16,000-28,000 times per filter change with 2,000 devices (104 ms, bench/admin.py). A changed device is one
    `dataChanged` for its row; if that moves it in the chosen order, the rows are re-sorted at most once a second
    (a layout change that keeps the selection), and not at all while `live_sort` is off (the tab is hidden).
    """

    RESORT_MS = 1000

    def __init__(self, clock: Callable[[], float] = time.time, parent: Any = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self._all: dict[str, DeviceSnapshot] = {}
        self._haystack: dict[str, str] = {}
        self._rows: list[DeviceSnapshot] = []
        self._row_of: dict[str, int] = {}
        self._filter = ""
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._live_sort = True
        self._unsorted = False
        self._resort = QTimer(self)
        self._resort.setSingleShot(True)
        self._resort.setInterval(self.RESORT_MS)
        self._resort.timeout.connect(self._resort_now)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(
                COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        snap = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(snap, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == STATE_COLUMN:
            return STATE_STYLE[state_key(snap)][2]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(snap, column)
        if role == Qt.ItemDataRole.UserRole:
            return self._sort_key(snap, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, snap: DeviceSnapshot, column: int) -> str:
        if column == 0:
            return snap.name
        if column == 1:
            return snap.kind
        if column == STATE_COLUMN:
            word, symbol, _colour = STATE_STYLE[state_key(snap)]
            return f"{symbol} {word}"
        if column == SEEN_COLUMN:
            return "—" if snap.last_seen is None else ago(max(0.0, self._clock() - snap.last_seen))
        if column == 4:
            return f"{snap.received:,}"
        if column == 5:
            return f"{snap.rejected:,}"
        if snap.last_reject_reason is None:
            return ""
        return f"{snap.last_reject_reason.replace('_', ' ')}: {snap.last_reject_detail or ''}"

    def _tooltip(self, snap: DeviceSnapshot, column: int) -> str | None:
        if column == 0:
            return f"id {snap.id}"
        if column == SEEN_COLUMN and snap.last_seen is not None:
            seen = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.last_seen))
            if snap.report_interval_s is None:
                return seen
            return f"{seen}\nreports about every {ago(snap.report_interval_s).removesuffix(' ago')}"
        if column == 6 and snap.last_reject_detail:
            return snap.last_reject_detail
        return None

    def _sort_key(self, snap: DeviceSnapshot, column: int) -> SortKey:
        keys = (snap.name.lower(), snap.kind, state_key(snap), snap.last_seen or 0.0, snap.received, snap.rejected,
                snap.last_reject_reason or "")
        return keys[column]

    def state_counts(self) -> dict[str, int]:
        """Devices per state word (online, offline, ...), in the order the legend shows them (all devices, not
        only those the filter shows)."""
        counts = {STATE_STYLE[key][0].lower(): 0 for key in STATE_STYLE}
        for snap in self._all.values():
            counts[STATE_STYLE[state_key(snap)][0].lower()] += 1
        return counts

    def total(self) -> int:
        """How many devices there are, shown or not."""
        return len(self._all)

    def snapshot(self, row: int) -> DeviceSnapshot:
        return self._rows[row]

    def row_of(self, device_id: str) -> int | None:
        """The row a device is shown in, None if the filter hides it (or there is no such device)."""
        return self._row_of.get(device_id)

    def device(self, device_id: str) -> DeviceSnapshot | None:
        return self._all.get(device_id)

    # --- filter and order -----------------------------------------------------------------------------------------

    def set_filter(self, text: str) -> None:
        """Show the devices whose name, kind, state, id, IP or MAC address, firmware or last rejection contains
        `text` (any case)."""
        text = text.strip().lower()
        if text == self._filter:
            return
        self.beginResetModel()
        self._filter = text
        self._rows = [s for s in self._all.values() if self._matches(s.id)]
        self._order_rows()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Called by the view when a header is clicked."""
        self._sort_column, self._sort_order = column, order
        self._relayout()

    def set_live_sort(self, live: bool) -> None:
        self._live_sort = live
        if live and self._unsorted:
            self._relayout()

    def _matches(self, device_id: str) -> bool:
        return not self._filter or self._filter in self._haystack[device_id]

    def _order_rows(self) -> None:
        column = self._sort_column
        self._rows.sort(key=lambda s: (self._sort_key(s, column), s.name.lower(), s.id),
                        reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        self._row_of = {s.id: row for row, s in enumerate(self._rows)}
        self._unsorted = False

    def _relayout(self) -> None:
        """Re-sort the shown rows; the view's selection and current row follow their devices."""
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        ids = [self._rows[index.row()].id if 0 <= index.row() < len(self._rows) else None for index in persistent]
        self._order_rows()
        moved = [self.index(self._row_of[device_id], index.column()) if device_id in self._row_of else QModelIndex()
                 for device_id, index in zip(ids, persistent)]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def _resort_now(self) -> None:
        if self._unsorted and self._live_sort:
            self._relayout()

    # --- live changes ---------------------------------------------------------------------------------------------

    def update(self, snapshots: list[DeviceSnapshot]) -> None:
        """Apply changed snapshots: a shown row gets one dataChanged; new devices that match are inserted (and
        placed by the next re-sort); a device that stops matching the filter leaves."""
        new: list[DeviceSnapshot] = []
        gone: list[str] = []
        column = self._sort_column
        for snap in snapshots:
            old = self._all.get(snap.id)
            self._all[snap.id] = snap
            self._haystack[snap.id] = _haystack(snap)
            row = self._row_of.get(snap.id)
            if row is None:
                if self._matches(snap.id):
                    new.append(snap)
                continue
            if not self._matches(snap.id):
                gone.append(snap.id)
                continue
            self._rows[row] = snap
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            if old is not None and self._sort_key(old, column) != self._sort_key(snap, column):
                self._unsorted = True
        if gone:
            self._drop_rows(gone)
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, snap in enumerate(new):
                self._row_of[snap.id] = first + offset
                self._rows.append(snap)
            self.endInsertRows()
            self._unsorted = True
            if len(self._rows) == len(new):  # the first devices: in order at once
                self._relayout()
        if self._unsorted and self._live_sort and not self._resort.isActive():
            self._resort.start()

    def remove(self, device_ids: list[str]) -> None:
        """Drop deleted devices."""
        for device_id in device_ids:
            self._all.pop(device_id, None)
            self._haystack.pop(device_id, None)
        self._drop_rows([device_id for device_id in device_ids if device_id in self._row_of])

    def _drop_rows(self, device_ids: list[str]) -> None:
        for device_id in device_ids:
            row = self._row_of.pop(device_id, None)
            if row is None:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            for later in self._rows[row:]:
                self._row_of[later.id] -= 1
            self.endRemoveRows()

    def refresh_times(self) -> None:
        """Once a second: "N s ago" moves on without any message arriving."""
        if self._rows:
            self.dataChanged.emit(self.index(0, SEEN_COLUMN), self.index(len(self._rows) - 1, SEEN_COLUMN),
                                  [Qt.ItemDataRole.DisplayRole])


def _haystack(snap: DeviceSnapshot) -> str:
    """What the filter searches in, lower case."""
    word = STATE_STYLE[state_key(snap)][0]
    return " ".join(part for part in (snap.name, snap.kind, word, snap.id, snap.ip, snap.mac, snap.firmware,
                                      (snap.last_reject_reason or "").replace("_", " "), snap.last_reject_detail)
                    if part).lower()
