"""Members of the Lockers tab: search, add or edit by hand, import a roster CSV after a preview (staff may do all).

Signals (MembersPage):
    changed(): members were added or edited; the tab refreshes every view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.lockers import LockerError, RosterPreview, demo_roster_csv
from kiosk.ui.lockers.locker_pages import plural, selected_row
from kiosk.ui.widgets.rows_model import Column, RowsModel
from kiosk.ui.widgets.tables import make_table

MAX_ROSTER_BYTES = 20 * 1024 * 1024


class MemberDialog(QDialog):
    """Add a member (enrollment given or typed) or edit one's name and programme."""

    saved = Signal(str)

    def __init__(self, ops: Any, parent: QWidget | None = None, member: Any = None, enrollment: str = "") -> None:
        super().__init__(parent)
        self._ops = ops
        self._editing = member is not None
        self.setWindowTitle("Edit member" if self._editing else "Add member")
        self.setModal(True)
        self.enrollment = QLineEdit(member.enrollment if member else enrollment, self)
        self.enrollment.setPlaceholderText("e.g. CS2021001")
        self.enrollment.setReadOnly(self._editing)
        self.name = QLineEdit(member.name if member else "", self)
        self.programme = QLineEdit(member.programme if member else "", self)
        self.programme.setPlaceholderText("e.g. CS")
        self.error = QLabel("", self)
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Enrollment number", self.enrollment)
        form.addRow("Name", self.name)
        form.addRow("Programme", self.programme)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel,
                                   self)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        (self.name if self._editing or enrollment else self.enrollment).setFocus()

    def _save(self) -> None:
        try:
            if self._editing:
                self._ops.edit_member(self.enrollment.text(), self.name.text(), self.programme.text())
                enrollment = self.enrollment.text().strip().upper()
            else:
                enrollment = self._ops.add_member(self.enrollment.text(), self.name.text(), self.programme.text())
        except LockerError as exc:
            self.error.setText(str(exc))
            return
        self.saved.emit(enrollment)
        self.accept()


class RosterDialog(QDialog):
    """What an import would do, before it does it: new, already known, and each refused row with its line."""

    imported = Signal(int)

    def __init__(self, ops: Any, preview: RosterPreview, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ops = ops
        self.preview = preview
        self.setWindowTitle("Import roster")
        self.setModal(True)
        self.resize(640, 520)
        self.summary = QLabel(f"{source}: {plural(len(preview.new), 'new member')}, {len(preview.known)} already on "
                              f"the roster (left as they are), {plural(len(preview.errors), 'row')} refused.", self)
        self.summary.setWordWrap(True)
        self.new_list = QListWidget(self)
        for row in preview.new[:500]:
            self.new_list.addItem(f"{row.enrollment}  {row.name}  {row.programme}".rstrip())
        if len(preview.new) > 500:
            self.new_list.addItem(f"… and {len(preview.new) - 500} more")
        self.error_list = QListWidget(self)
        for line, problem in preview.errors:
            self.error_list.addItem(f"line {line}: {problem}")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.import_button = buttons.addButton(f"Import {plural(len(preview.new), 'member')}",
                                               QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setEnabled(bool(preview.new))
        buttons.accepted.connect(self._import)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("To add:", self))
        layout.addWidget(self.new_list, 2)
        layout.addWidget(QLabel("Refused (fix the file and import again; nothing else is lost):", self))
        layout.addWidget(self.error_list, 1)
        layout.addWidget(buttons)

    def _import(self) -> None:
        added = self._ops.import_roster(self.preview)
        self.imported.emit(added)
        self.accept()


class MembersPage(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: QWidget | None = None
        self.stale = True
        self.model = RowsModel([
            Column("Enrollment", lambda m: m.enrollment),
            Column("Name", lambda m: m.name),
            Column("Programme", lambda m: m.programme),
            Column("Locker", lambda m: "" if m.locker is None else str(m.locker),
                   lambda m: -1 if m.locker is None else m.locker, align_right=True),
        ], parent=self)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search by number or name")
        self.search.setClearButtonEnabled(True)
        self.title = QLabel("", self)
        self.title.setObjectName("lockerListTitle")
        self.table = make_table(self, self.model)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())
        self.add_button = QPushButton("&Add member…", self)
        self.add_button.clicked.connect(lambda: self.open_add())
        self.edit_button = QPushButton("&Edit…", self)
        self.edit_button.clicked.connect(self.edit_selected)
        self.import_button = QPushButton("&Import roster (CSV)…", self)
        self.import_button.clicked.connect(self._choose_file)
        self.demo_button = QPushButton("Add the &demo roster (10 students)", self)
        self.demo_button.clicked.connect(lambda: self.open_import(demo_roster_csv(), "Demo roster"))
        self.demo_button.hide()
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.import_button, self.demo_button):
            button.setEnabled(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._debounce.start)

    def attach(self, operations: Any) -> None:
        self.ops = operations
        for button in (self.add_button, self.edit_button, self.import_button, self.demo_button):
            button.setEnabled(True)

    def refresh(self) -> None:
        if self.ops is None:
            return
        self.stale = False
        members = self.ops.members(self.search.text())
        self.model.set_rows(members)
        total = self.ops.member_count()
        self.demo_button.setVisible(total == 0)
        if total == 0:
            self.title.setText("No members yet. Add them by hand, import a roster CSV (columns: enrollment, name, "
                               "programme), or start with the demo roster.")
        elif self.search.text().strip():
            self.title.setText(f"{len(members):,} of {total:,} members match" +
                               (" (the first 500 are shown)" if len(members) >= 500 else ""))
        else:
            self.title.setText(plural(total, "member") + (" (the first 500 are shown; search to find others)"
                                                       if total > 500 else ""))

    def open_add(self, enrollment: str = "") -> MemberDialog:
        dialog = MemberDialog(self.ops, self, enrollment=enrollment)
        return self._open(dialog)

    def edit_selected(self) -> None:
        member = selected_row(self.table, self.model)
        if member is not None:
            self._open(MemberDialog(self.ops, self, member=member))

    def _open(self, dialog: Any) -> Any:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _e: self.changed.emit())
        self.dialog = dialog
        dialog.open()
        return dialog

    def _choose_file(self) -> None:
        dialog = QFileDialog(self, "Import a roster", str(Path.home()), "CSV files (*.csv);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.import_file)
        self.dialog = dialog
        dialog.open()

    def import_file(self, path: str) -> None:
        try:
            if Path(path).stat().st_size > MAX_ROSTER_BYTES:
                raise ValueError(f"the file is larger than {MAX_ROSTER_BYTES // (1024 * 1024)} MB")
            text = Path(path).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            self._warn(f"{Path(path).name} is not UTF-8 text. Save it as \"CSV UTF-8\" and import it again.")
            return
        except (OSError, ValueError) as exc:
            self._warn(f"{Path(path).name} could not be read: {exc}")
            return
        self.open_import(text, Path(path).name)

    def open_import(self, text: str, source: str) -> RosterDialog:
        dialog = RosterDialog(self.ops, self.ops.preview_roster(text), source, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.imported.connect(lambda _n: self.changed.emit())
        self.dialog = dialog
        dialog.open()
        return dialog

    def _warn(self, text: str) -> None:
        self.dialog = QMessageBox(QMessageBox.Icon.Warning, "Import roster", text, QMessageBox.StandardButton.Ok,
                                  self)
        self.dialog.open()
