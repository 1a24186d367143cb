"""The Lockers tab's lists: who has a locker now (the end-of-day list) and the history with filters.

Both read through the tab's LockerOperations. The history query and its CSV export run off the GUI thread (a
million rows); the export shows its progress and can be cancelled.

Signals (AssignedPage):
    changed(): this page released lockers; the tab refreshes every view.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.lockers import HISTORY_LIMIT, HistoryFilter, LockerError, LockerState, LockerStatus, describe_duration
from kiosk.protocol.spreadsheet import SafeWriter
from kiosk.ui.widgets.background import Background
from kiosk.ui.widgets.pin_dialog import ask_admin
from kiosk.ui.widgets.reason_dialog import ask_reason
from kiosk.ui.widgets.rows_model import Column, RowsModel
from kiosk.ui.widgets.tables import ask_save_path, make_table

log = logging.getLogger(__name__)


def clock_text(at: float | None) -> str:
    return "" if at is None else time.strftime("%H:%M", time.localtime(at))


def date_time_text(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def selected_row(table: QTableView, model: RowsModel) -> Any:
    rows = table.selectionModel().selectedRows() if table.selectionModel() else []
    if not rows:
        return None
    return model.row_at(rows[0].row())


class AssignedPage(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None, clock: Any = time.time) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.pin: Any = None
        self.dialog: QWidget | None = None
        self.stale = True
        self._clock = clock
        now = clock
        columns = [
            Column("Locker", lambda s: str(s.number), lambda s: s.number, align_right=True),
            Column("Bank", lambda s: s.bank),
            Column("Enrollment", lambda s: s.member),
            Column("Name", lambda s: s.name),
            Column("Since", lambda s: clock_text(s.assigned_at), lambda s: s.assigned_at),
            Column("Due", lambda s: clock_text(s.due_at) if s.due_at - s.assigned_at < 86400
                   else date_time_text(s.due_at), lambda s: s.due_at),
            Column("Status", lambda s: ("OVERDUE by " + describe_duration(now() - s.due_at))
                   if s.status(now()) is LockerStatus.OVERDUE else "in use", lambda s: s.due_at),
        ]
        self.model = RowsModel(columns, lambda s: s.status(now()) is LockerStatus.OVERDUE, self)
        self.title = QLabel("Waiting for the hub…", self)
        self.title.setObjectName("lockerListTitle")
        self.table = make_table(self, self.model)
        self.table.sortByColumn(5, Qt.SortOrder.AscendingOrder)
        self.release_button = QPushButton("&Release selected…", self)
        self.release_button.clicked.connect(self._release)
        self.force_button = QPushButton("&Force release selected…", self)
        self.force_button.clicked.connect(self._force)
        self.overdue_button = QPushButton("Release all &overdue…", self)
        self.overdue_button.clicked.connect(self._release_overdue)
        self.export_button = QPushButton("&Export list (CSV)…", self)
        self.export_button.clicked.connect(lambda: ask_save_path(self, "Export the list of assigned lockers",
                                                                 f"lockers-assigned-{time.strftime('%Y-%m-%d')}.csv",
                                                                 self.export_to))
        buttons = QHBoxLayout()
        for button in (self.release_button, self.force_button, self.overdue_button, self.export_button):
            button.setEnabled(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def attach(self, operations: Any, pin: Any) -> None:
        self.ops, self.pin = operations, pin
        for button in (self.release_button, self.force_button, self.overdue_button, self.export_button):
            button.setEnabled(True)

    def set_board(self, states: list[LockerState]) -> None:
        self.stale = False
        held = [s for s in states if s.member is not None]
        self.model.set_rows(held)
        self._title()

    def recheck(self) -> None:
        """Time passed: rows may have turned overdue."""
        if self.model.rows:
            self.model.set_rows(self.model.rows)
            self._title()

    def _title(self) -> None:
        held = self.model.rows
        overdue = sum(1 for s in held if s.status(self._clock()) is LockerStatus.OVERDUE)
        self.title.setText(f"{plural(len(held), 'locker')} assigned now, {overdue} overdue" if held else
                           "No locker is assigned right now.")
        self.overdue_button.setEnabled(self.ops is not None and overdue > 0)

    def _selected(self) -> LockerState | None:
        return selected_row(self.table, self.model)

    def _release(self) -> None:
        state = self._selected()
        if state is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Release locker",
                          f"Release locker {state.number} held by {state.name} ({state.member})?",
                          QMessageBox.StandardButton.Cancel, self)
        box.addButton(f"Release {state.number}", QMessageBox.ButtonRole.AcceptRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self._run(lambda: self.ops.release_locker(state.number)))
        self.dialog = box
        box.open()

    def _force(self) -> None:
        state = self._selected()
        if state is None:
            return
        self.dialog = ask_admin(self.pin, f"force locker {state.number} free", self, lambda: self._ask(
            "Force release", f"Force locker {state.number} free ({state.name}, {state.member})? Why?",
            f"Force release {state.number}", lambda why: self.ops.force_exit(state.number, why)))

    def _release_overdue(self) -> None:
        overdue = [s for s in self.model.rows if s.status(self._clock()) is LockerStatus.OVERDUE]
        self.dialog = ask_admin(self.pin, "release every overdue locker", self, lambda: self._ask(
            "Release all overdue", f"Release all {len(overdue)} overdue lockers? Their members have not handed the "
            "keys back. Why?", f"Release {len(overdue)} lockers", self.ops.release_overdue))

    def _ask(self, title: str, question: str, action: str, work: Any) -> None:
        self.dialog = ask_reason(self, title, question, action, lambda why: self._run(lambda: work(why)))

    def _run(self, work: Any) -> None:
        try:
            work()
        except (LockerError, PermissionError) as exc:
            self.dialog = QMessageBox(QMessageBox.Icon.Warning, "Lockers", str(exc),
                                      QMessageBox.StandardButton.Ok, self)
            self.dialog.open()
            return
        self.changed.emit()

    def export_to(self, path: str) -> int:
        """The list as it is now, as CSV (the end-of-day list)."""
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = SafeWriter(out)
            writer.writerow(["locker", "bank", "enrollment", "name", "programme", "assigned", "due", "overdue"])
            for s in sorted(self.model.rows, key=lambda s: s.number):
                writer.writerow([s.number, s.bank, s.member, s.name, s.programme, date_time_text(s.assigned_at),
                                 date_time_text(s.due_at),
                                 "yes" if s.status(self._clock()) is LockerStatus.OVERDUE else "no"])
        return len(self.model.rows)


class _ExportSignals(QObject):
    progress = Signal(int)
    done = Signal(int, str)


class HistoryPage(QWidget):
    """Filters apply as you type (after a short pause); the newest 1,000 matches show, the export has them all."""

    searched = Signal()  # a search's rows are on screen (tests and the benchmark wait for it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: QWidget | None = None
        self.stale = True
        columns = [
            Column("Locker", lambda r: str(r.locker), lambda r: r.locker, align_right=True),
            Column("Enrollment", lambda r: r.member),
            Column("Name", lambda r: r.name),
            Column("Assigned", lambda r: date_time_text(r.assigned_at), lambda r: r.assigned_at),
            Column("Released", lambda r: date_time_text(r.released_at) if r.released_at else "still assigned",
                   lambda r: r.released_at or float("inf")),
            Column("Held", lambda r: describe_duration(r.released_at - r.assigned_at) if r.released_at else "",
                   lambda r: (r.released_at or time.time()) - r.assigned_at),
            Column("How", lambda r: {"exit": "returned", "force": "forced", "overdue": "overdue release"}.get(
                r.release_kind or "", "")),
            Column("By", lambda r: r.released_by or r.assigned_by),
            Column("Reason", lambda r: r.reason or ""),
        ]
        self.model = RowsModel(columns, lambda r: r.release_kind in ("force", "overdue"), self)
        self.member = QLineEdit(self)
        self.member.setPlaceholderText("member: number or name")
        self.locker = QLineEdit(self)
        self.locker.setPlaceholderText("locker")
        self.locker.setValidator(QIntValidator(1, 99999, self))
        self.locker.setMaximumWidth(110)
        today = QDate.currentDate()
        self.since = self._date(today.addDays(-30))
        self.until = self._date(today)
        self.clear_button = QPushButton("Clear filters", self)
        self.clear_button.clicked.connect(self.clear_filters)
        self.export_button = QPushButton("&Export history (CSV)…", self)
        self.export_button.clicked.connect(lambda: ask_save_path(
            self, "Export the locker history", f"locker-history-{time.strftime('%Y-%m-%d')}.csv", self.export_to))
        self.export_button.setEnabled(False)
        filters = QHBoxLayout()
        filters.addWidget(self.member, 2)
        filters.addWidget(self.locker)
        filters.addWidget(QLabel("from", self))
        filters.addWidget(self.since)
        filters.addWidget(QLabel("to", self))
        filters.addWidget(self.until)
        filters.addWidget(self.clear_button)
        filters.addWidget(self.export_button)
        self.status = QLabel("", self)
        self.status.setObjectName("lockerListTitle")
        self.table = make_table(self, self.model)
        self.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        self.background = Background(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.search)
        for edit in (self.member, self.locker):
            edit.textChanged.connect(self._debounce.start)
            edit.returnPressed.connect(self.search)
        for date in (self.since, self.until):
            date.dateChanged.connect(self._debounce.start)
        self._progress: QProgressDialog | None = None
        self._cancel = threading.Event()
        self._export_signals = _ExportSignals(self)
        self._export_signals.progress.connect(self._export_progress)
        self._export_signals.done.connect(self._export_done)

    def _date(self, value: QDate) -> QDateEdit:
        edit = QDateEdit(value, self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumWidth(130)
        return edit

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self.export_button.setEnabled(True)

    def clear_filters(self) -> None:
        for edit in (self.member, self.locker):
            edit.blockSignals(True)
            edit.clear()
            edit.blockSignals(False)
        today = QDate.currentDate()
        self.since.setDate(today.addDays(-30))
        self.until.setDate(today)
        self.search()

    def current_filter(self) -> HistoryFilter:
        def start_of(date: QDate) -> float:
            return datetime(date.year(), date.month(), date.day()).timestamp()

        locker = int(self.locker.text()) if self.locker.text().isdigit() else None
        return HistoryFilter(self.member.text().strip(), locker, start_of(self.since.date()),
                             (datetime.fromtimestamp(start_of(self.until.date())) + timedelta(days=1)).timestamp())

    def search(self) -> None:
        if self.ops is None:
            return
        self._debounce.stop()
        self.stale = False
        wanted = self.current_filter()
        self.status.setText("Searching…")
        self.background.run(lambda: self.ops.history(wanted), self._show_rows, self._failed)

    def _show_rows(self, result: tuple[list[Any], bool]) -> None:
        rows, more = result
        self.model.set_rows(rows)
        if more:
            self.status.setText(f"More than {HISTORY_LIMIT:,} assignments match: the newest {HISTORY_LIMIT:,} are "
                                "shown. Narrow the filters, or export them all.")
        else:
            self.status.setText(f"{plural(len(rows), 'assignment')} match." if rows else
                                "No assignment matches these filters.")
        self.searched.emit()

    def _failed(self, error: Exception) -> None:
        self.status.setText(f"The history could not be read: {error}")
        self.searched.emit()

    # --- export ---------------------------------------------------------------------------------------------------

    def export_to(self, path: str) -> None:
        """Every matching assignment, in a background thread, with a progress dialog that can cancel."""
        wanted = self.current_filter()
        self._cancel.clear()
        self._progress = QProgressDialog("Exporting the history…", "Cancel", 0, 0, self)
        self._progress.setWindowTitle("Export")
        self._progress.setWindowModality(Qt.WindowModality.WindowModal)
        self._progress.canceled.connect(self._cancel.set)
        self._progress.open()
        self.dialog = self._progress
        signals = self._export_signals

        def work() -> None:
            written, error = 0, ""
            try:
                with open(path + ".part", "w", newline="", encoding="utf-8") as out:
                    written = self.ops.export_history(wanted, out, lambda n: (signals.progress.emit(n),
                                                                             not self._cancel.is_set())[1])
                if self._cancel.is_set():
                    Path(path + ".part").unlink(missing_ok=True)
                    error = "cancelled"
                else:
                    Path(path + ".part").replace(path)
            except OSError as exc:
                log.warning("history export to %s failed: %s", path, exc)
                Path(path + ".part").unlink(missing_ok=True)
                error = str(exc)
            signals.done.emit(written, error)

        self._export_thread = threading.Thread(target=work, name="ui-export", daemon=True)
        self._export_thread.start()

    def wait_export(self, timeout: float = 60.0) -> None:
        thread = getattr(self, "_export_thread", None)
        if thread is not None:
            thread.join(timeout)

    def _export_progress(self, rows: int) -> None:
        if self._progress is not None:
            self._progress.setLabelText(f"Exporting the history… {rows:,} rows written")

    def _export_done(self, written: int, error: str) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if error == "cancelled":
            self.status.setText("Export cancelled; no file was written.")
        elif error:
            self.dialog = QMessageBox(QMessageBox.Icon.Warning, "Export", f"The history could not be written: "
                                      f"{error}", QMessageBox.StandardButton.Ok, self)
            self.dialog.open()
        else:
            self.status.setText(f"Exported {plural(written, 'assignment')}.")
