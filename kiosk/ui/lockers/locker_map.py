"""The locker map: every locker as a cell, grouped by bank; state by colour **and** word, the number large.

One painted widget rather than a button per locker: 1,000 lockers repaint in one pass and only the cells in the
exposed rectangle are drawn. Cells are at least 48 px high for fingers. The map never takes keyboard focus (the scan
field keeps it); a click emits `lockerClicked`.

Signals:
    lockerClicked(int): the locker number under a click or tap.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from kiosk.core.lockers import LockerStatus, describe_duration

CELL_W, CELL_H, GAP, HEADER_H, MARGIN = 78, 56, 6, 34, 8


@dataclass(frozen=True)
class CellStyle:
    word: str
    background: str
    text: str
    border: str


CELL_STYLES = {
    LockerStatus.FREE: CellStyle("free", "#e6f4ea", "#0d5302", "#1e8e3e"),
    LockerStatus.IN_USE: CellStyle("in use", "#d2e3fc", "#174ea6", "#1a73e8"),  # blue: taken, not broken
    LockerStatus.OVERDUE: CellStyle("OVERDUE", "#b3261e", "#ffffff", "#8c1d18"),
    LockerStatus.OUT_OF_ORDER: CellStyle("out of order", "#f1f3f4", "#3c4043", "#9aa0a6"),
}


class LockerMap(QWidget):
    lockerClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(False)
        self._states: list = []
        self._status: dict[int, LockerStatus] = {}
        self._cells: dict[int, QRect] = {}
        self._headers: list[tuple[QRect, str]] = []
        self._free_in_bank: dict[str, tuple[int, int]] = {}
        self.selected: int | None = None
        self._number_font = QFont(self.font())
        self._number_font.setPointSize(15)
        self._number_font.setBold(True)
        self._word_font = QFont(self.font())
        self._word_font.setPointSize(8)
        self._header_font = QFont(self.font())
        self._header_font.setPointSize(12)
        self._header_font.setBold(True)

    # --- data -----------------------------------------------------------------------------------------------------

    def set_board(self, states: list, now: float | None = None) -> None:
        """The lockers (kiosk.store.lockers.LockerState) as they are now."""
        at = time.time() if now is None else now
        changed_layout = [(s.number, s.bank) for s in states] != [(s.number, s.bank) for s in self._states]
        old_status = self._status
        self._states = list(states)
        self._status = {s.number: s.status(at) for s in states}
        self._count_free()
        if changed_layout:
            self._relayout()
            self.update()
            return
        # One scan changes one locker: repaint that cell and its bank's header, not the 150 cells on screen.
        changed = [s for s in states if old_status.get(s.number) is not self._status[s.number]]
        for state in changed:
            self.update(self._cells[state.number].adjusted(-4, -4, 4, 4))
        for rect, bank in self._headers:
            if any(state.bank == bank for state in changed):
                self.update(rect)

    def _count_free(self) -> None:
        self._free_in_bank: dict[str, tuple[int, int]] = {}
        for state in self._states:
            free, total = self._free_in_bank.get(state.bank, (0, 0))
            self._free_in_bank[state.bank] = (free + (self._status[state.number] is LockerStatus.FREE), total + 1)

    def recheck(self, now: float | None = None) -> bool:
        """Time passed: lockers may have become overdue. Repaints only if a status changed."""
        at = time.time() if now is None else now
        status = {s.number: s.status(at) for s in self._states}
        if status == self._status:
            return False
        self._status = status
        self._count_free()
        self.update()
        return True

    def status_of(self, number: int) -> LockerStatus | None:
        return self._status.get(number)

    def state_of(self, number: int):  # noqa: ANN201 - LockerState or None
        return next((s for s in self._states if s.number == number), None)

    def select(self, number: int | None) -> None:
        if number != self.selected:
            for old in (self.selected, number):
                if old in self._cells:
                    self.update(self._cells[old].adjusted(-4, -4, 4, 4))
            self.selected = number

    def cell_rect(self, number: int) -> QRect | None:
        return self._cells.get(number)

    # --- layout ---------------------------------------------------------------------------------------------------

    def _columns(self, width: int) -> int:
        return max(1, (width - 2 * MARGIN + GAP) // (CELL_W + GAP))

    def _relayout(self) -> None:
        columns = self._columns(self.width())
        self._cells, self._headers = {}, []
        y = MARGIN
        bank: str | None = None
        column = 0
        for state in self._states:
            if state.bank != bank:
                if bank is not None:
                    y += CELL_H + GAP + 6
                bank = state.bank
                self._headers.append((QRect(MARGIN, y, self.width() - 2 * MARGIN, HEADER_H), bank))
                y += HEADER_H
                column = 0
            elif column == columns:
                column = 0
                y += CELL_H + GAP
            self._cells[state.number] = QRect(MARGIN + column * (CELL_W + GAP), y, CELL_W, CELL_H)
            column += 1
        height = (y + CELL_H + MARGIN) if self._states else 0
        if self.minimumHeight() != height:
            self.setMinimumHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._columns(event.size().width()) != self._columns(event.oldSize().width()) or not self._cells:
            self._relayout()
        else:  # same columns: only the headers' width changes
            self._headers = [(QRect(r.x(), r.y(), self.width() - 2 * MARGIN, r.height()), t) for r, t in
                             self._headers]
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(10 * (CELL_W + GAP) + 2 * MARGIN, max(self.minimumHeight(), 200))

    # --- painting -------------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        exposed = event.rect()
        painter.setFont(self._header_font)
        for rect, bank in self._headers:
            if rect.intersects(exposed):
                free, total = self._free_in_bank.get(bank, (0, 0))
                painter.setPen(QColor("#202124"))
                painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f"{bank}   ·   {free} of {total} free")
        for state in self._states:
            rect = self._cells.get(state.number)
            if rect is None or not rect.intersects(exposed):
                continue
            self._paint_cell(painter, rect, state.number, self._status[state.number])
        painter.end()

    def _paint_cell(self, painter: QPainter, rect: QRect, number: int, status: LockerStatus) -> None:
        style = CELL_STYLES[status]
        painter.setPen(QPen(QColor(style.border), 1))
        painter.setBrush(QColor(style.background))
        painter.drawRoundedRect(rect, 6, 6)
        if status is LockerStatus.OUT_OF_ORDER:
            painter.setBrush(QBrush(QColor("#bdc1c6"), Qt.BrushStyle.BDiagPattern))
            painter.drawRoundedRect(rect, 6, 6)
        if number == self.selected:
            painter.setPen(QPen(QColor("#1a73e8"), 4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), 8, 8)
        painter.setPen(QColor(style.text))
        painter.setFont(self._number_font)
        painter.drawText(rect.adjusted(0, 4, 0, -rect.height() // 2 + 6), Qt.AlignmentFlag.AlignCenter, str(number))
        painter.setFont(self._word_font)
        painter.drawText(rect.adjusted(2, rect.height() // 2, -2, -4), Qt.AlignmentFlag.AlignCenter, style.word)

    # --- input ----------------------------------------------------------------------------------------------------

    def number_at(self, x: int, y: int) -> int | None:
        return next((n for n, rect in self._cells.items() if rect.contains(x, y)), None)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        number = self.number_at(int(event.position().x()), int(event.position().y()))
        if number is not None and event.button() == Qt.MouseButton.LeftButton:
            self.lockerClicked.emit(number)
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            number = self.number_at(event.pos().x(), event.pos().y())
            state = self.state_of(number) if number is not None else None
            if state is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), describe_locker(state, self._status[number]), self)
            return True
        return super().event(event)


def due_words(due_at: float, now: float) -> str:
    """ "by 18:02" today, "by 09:00 tomorrow" after midnight, "by Sat 5 Dec 09:00" further on (or further back)."""
    due, today = time.localtime(due_at), time.localtime(now)
    clock = time.strftime("%H:%M", due)
    days = (datetime.date(due.tm_year, due.tm_mon, due.tm_mday) -
            datetime.date(today.tm_year, today.tm_mon, today.tm_mday)).days
    if days == 0:
        return f"by {clock}"
    if days == 1:
        return f"by {clock} tomorrow"
    if days == -1:
        return f"by {clock} yesterday"
    return f"by {time.strftime('%a', due)} {due.tm_mday} {time.strftime('%b', due)} {clock}"


def describe_locker(state, status: LockerStatus, now: float | None = None) -> str:  # noqa: ANN001
    """One line a person reads: "Locker 17 (Bank A): in use by Rahul Sharma (CS2021001), due 18:02"."""
    head = f"Locker {state.number} ({state.bank})"
    if status is LockerStatus.OUT_OF_ORDER:
        return f"{head}: out of order" + (f" ({state.note})" if state.note else "")
    if status is LockerStatus.FREE:
        return f"{head}: free"
    at = time.time() if now is None else now
    due = due_words(state.due_at, at)[3:]  # "18:02", "09:00 tomorrow"
    held = describe_duration(at - state.assigned_at)
    word = "OVERDUE since" if status is LockerStatus.OVERDUE else "due"
    return f"{head}: {state.name} ({state.member}), for {held}, {word} {due}"
