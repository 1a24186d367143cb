"""The admin's Operators and Audit log pages.

Operators: who may sign in, their role, whether they are locked out or disabled; add, change role, set a password,
disable (the last admin cannot be demoted or disabled: the store refuses it). Audit log: the newest 500 rows, filtered
by any word (who, what, target, why), read off the GUI thread.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.operators import MIN_PASSWORD, Role
from kiosk.ui.admin.admin_common import attempt, make_table, open_dialog
from kiosk.ui.widgets.background import Background

AUDIT_ROWS = 500


def _stamp(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


class OperatorDialog(QDialog):
    """A new operator (name, role, password twice) or a new password for one."""

    def __init__(self, parent: QWidget | None, name: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add an operator" if name is None else f"New password for {name}")
        self.setModal(True)
        self.setMinimumWidth(460)
        self.name = QLineEdit(name or "", self)
        self.name.setReadOnly(name is not None)
        self.role = QComboBox(self)
        self.role.addItem("staff: lockers and stalls", Role.STAFF)
        self.role.addItem("admin: everything", Role.ADMIN)
        self.password = QLineEdit(self)
        self.again = QLineEdit(self)
        for field in (self.name, self.password, self.again):
            field.setMinimumHeight(40)
            field.setMaxLength(200)
        for field in (self.password, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(f"at least {MIN_PASSWORD} characters")
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        form = QFormLayout()
        form.addRow("Name", self.name)
        if name is None:
            form.addRow("Role", self.role)
        form.addRow("Password", self.password)
        form.addRow("Again", self.again)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        ok = buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        ok.setMinimumHeight(40)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        (self.password if name else self.name).setFocus()
        self.save: Any = None  # set by the page: raises with a reason, or saves

    def accept(self) -> None:
        if self.password.text() != self.again.text():
            self.error.setText("The two passwords differ.")
            return
        try:
            self.save(self)
        except (PermissionError, ValueError) as exc:
            self.error.setText(str(exc))
            return
        super().accept()


class OperatorsPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: Any = None
        self.table = make_table(self, ["Name", "Role", "State", "Last sign-in", "Since"])
        self.add_button = QPushButton("Add operator…", self)
        self.role_button = QPushButton("Change role", self)
        self.password_button = QPushButton("Set password…", self)
        self.disable_button = QPushButton("Disable", self)
        bar = QHBoxLayout()
        for button in (self.add_button, self.role_button, self.password_button, self.disable_button):
            button.setMinimumHeight(40)
            bar.addWidget(button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.add_button.clicked.connect(self.open_add)
        self.role_button.clicked.connect(self._toggle_role)
        self.password_button.clicked.connect(self.open_password)
        self.disable_button.clicked.connect(self._disable)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self._rows: list[Any] = []
        self._selection_changed()

    def attach(self, operations: Any) -> None:
        self.ops = operations

    def refresh(self) -> None:
        if self.ops is None:
            return
        now = time.time()
        self._rows = self.ops.operators()
        self.table.setRowCount(len(self._rows))
        for row, info in enumerate(self._rows):
            state = ("disabled" if info.disabled else
                     f"locked until {time.strftime('%H:%M', time.localtime(info.locked_until))}"
                     if info.locked_until > now else "active")
            for column, text in enumerate((info.name, info.role.value, state, _stamp(info.last_login),
                                           _stamp(info.created_at))):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._selection_changed()

    def selected(self) -> Any:
        rows = self.table.selectionModel().selectedRows()
        return self._rows[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        info = self.selected()
        for button in (self.role_button, self.password_button, self.disable_button):
            button.setEnabled(info is not None and not info.disabled)
        if info is not None:
            self.role_button.setText("Make staff" if info.role is Role.ADMIN else "Make admin")

    def open_add(self) -> OperatorDialog:
        dialog = OperatorDialog(self)
        dialog.save = lambda d: self.ops.add_operator(d.name.text(), Role(d.role.currentData()), d.password.text())
        return self._open(dialog)

    def open_password(self) -> OperatorDialog | None:
        info = self.selected()
        if info is None:
            return None
        dialog = OperatorDialog(self, info.name)
        dialog.save = lambda d: self.ops.set_password(info.name, d.password.text())
        return self._open(dialog)

    def _toggle_role(self) -> None:
        info = self.selected()
        if info is not None:
            self._try(lambda: self.ops.set_role(info.name, Role.STAFF if info.role is Role.ADMIN else Role.ADMIN))

    def _disable(self) -> None:
        info = self.selected()
        if info is not None:
            self._try(lambda: self.ops.disable(info.name))

    def _try(self, work: Any) -> None:
        attempt(self, work)
        self.refresh()

    def _open(self, dialog: OperatorDialog) -> OperatorDialog:
        dialog.accepted.connect(self.refresh)
        return open_dialog(self, dialog)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()


class AuditPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self._background = Background(self)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter: a name, an action (device.revoke), a device id, a word of the reason")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumHeight(36)
        self.count = QLabel("", self)
        self.table = make_table(self, ["When", "Who", "What", "Target", "Why / detail"])
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        self.filter.textChanged.connect(self._debounce.start)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

    def attach(self, operations: Any) -> None:
        self.ops = operations

    def refresh(self) -> None:
        if self.ops is None:
            return
        ops, text = self.ops, self.filter.text()
        self._background.run(lambda: ops.audit(text, AUDIT_ROWS), self._show, lambda error: self.count.setText(
            f"Could not read the audit log: {error}"))

    def _show(self, rows: list[tuple[float, str, str, str, str]]) -> None:
        self.table.setRowCount(len(rows))
        for row, (ts, actor, action, target, detail) in enumerate(rows):
            values = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)), actor, action, target, detail)
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 4:
                    item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        more = f"newest {AUDIT_ROWS}" if len(rows) == AUDIT_ROWS else f"{len(rows)} rows"
        self.count.setText(more)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def wait(self) -> None:
        self._background.wait()
