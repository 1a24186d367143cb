"""A read-only table model over a list of rows, with columns described once (header, text, sort key).

Used by the locker lists (assigned now, history, members). `set_rows` replaces everything in one reset and keeps the
chosen sort; a row may be highlighted (overdue) with a background and a text colour chosen for contrast.

The model sorts itself (a Python sort with the column's key): a QSortFilterProxyModel asked `data()` about 16,000
times to re-sort 600 rows after each reset, 150 ms per scan at the desk (bench/lockers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont


@dataclass(frozen=True)
class Column:
    header: str
    text: Callable[[Any], str]
    sort: Callable[[Any], Any] | None = None
    align_right: bool = False


class RowsModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], highlight: Callable[[Any], bool] = lambda row: False,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[Any] = []
        self._highlight = highlight
        self._bold = QFont()
        self._bold.setBold(True)
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = self._sorted(list(rows))
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self.rows = self._sorted(self.rows)
        self.layoutChanged.emit()

    def _sorted(self, rows: list[Any]) -> list[Any]:
        if self._sort is None or not 0 <= self._sort[0] < len(self.columns):
            return rows
        column = self.columns[self._sort[0]]
        return sorted(rows, key=column.sort or column.text, reverse=self._sort[1] == Qt.SortOrder.DescendingOrder)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if self._highlight(row):
            if role == Qt.ItemDataRole.BackgroundRole:
                return QColor("#fce8e6")
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor("#8c1d18")
            if role == Qt.ItemDataRole.FontRole:
                return self._bold
        return None

    def row_at(self, index: int) -> Any:
        return self.rows[index]
