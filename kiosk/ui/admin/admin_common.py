"""What the Admin tab's pages share: a read-only table, opening a dialog the page keeps (tests and focus), and
running an admin operation whose refusal is shown in words instead of raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QMessageBox, QTableWidget, QWidget

REFUSALS = (PermissionError, ValueError, LookupError)  # an admin operation's "no", with the reason in words


def make_table(parent: QWidget, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(34)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def open_dialog(owner: Any, dialog: Any) -> Any:
    """Window-modal, deleted when closed, kept as `owner.dialog` while open."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    owner.dialog = dialog
    dialog.open()
    return dialog


def attempt(owner: Any, work: Callable[[], Any]) -> tuple[bool, Any]:
    """Run an admin operation: (done, its result); a refusal opens a "Not done" box with the reason."""
    try:
        return True, work()
    except REFUSALS as exc:
        open_dialog(owner, QMessageBox(QMessageBox.Icon.Warning, "Not done", str(exc), parent=owner))
        return False, None
