"""Table model of devices keyed by id: one `dataChanged` per changed row, `beginInsertRows` for new ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from kiosk.core.devices import DeviceSnapshot, Online

COLUMNS = ("Device", "Kind", "State", "Last seen", "Received", "Rejected", "Last rejection")
STATE_COLUMN, SEEN_COLUMN = 2, 3
STATE_STYLE = {  # word, symbol, colour: never colour alone
    "online": ("Online", "●", QColor("#1b7f3a")),
    "offline": ("Offline", "○", QColor("#b3261e")),
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
    return {Online.ONLINE: "online", Online.OFFLINE: "offline", Online.NEVER: "never"}[snap.online]


class DevicesModel(QAbstractTableModel):
    def __init__(self, clock: Callable[[], float] = time.time, parent: Any = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self._rows: list[DeviceSnapshot] = []
        self._row_of: dict[str, int] = {}

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
        """Devices per state word (online, offline, ...), in the order the legend shows them."""
        counts = {STATE_STYLE[key][0].lower(): 0 for key in STATE_STYLE}
        for snap in self._rows:
            counts[STATE_STYLE[state_key(snap)][0].lower()] += 1
        return counts

    def snapshot(self, row: int) -> DeviceSnapshot:
        return self._rows[row]

    def update(self, snapshots: list[DeviceSnapshot]) -> None:
        """Apply changed snapshots: existing rows get one dataChanged each, new ones are inserted at the end."""
        new = []
        for snap in snapshots:
            row = self._row_of.get(snap.id)
            if row is None:
                new.append(snap)
                continue
            self._rows[row] = snap
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, snap in enumerate(new):
                self._row_of[snap.id] = first + offset
                self._rows.append(snap)
            self.endInsertRows()

    def remove(self, device_ids: list[str]) -> None:
        """Drop deleted devices' rows (one beginRemoveRows each; the rows after it move up)."""
        for device_id in device_ids:
            row = self._row_of.pop(device_id, None)
            if row is None:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            for later in self._rows[row:]:
                self._row_of[later.id] -= 1
            self.endRemoveRows()

    def row_of(self, device_id: str) -> int | None:
        return self._row_of.get(device_id)

    def refresh_times(self) -> None:
        """Once a second: "N s ago" moves on without any message arriving."""
        if self._rows:
            self.dataChanged.emit(self.index(0, SEEN_COLUMN), self.index(len(self._rows) - 1, SEEN_COLUMN),
                                  [Qt.ItemDataRole.DisplayRole])
