"""A table of a RowsModel as every tab shows one (sortable, rows a finger can hit, columns fitted once), and the
save dialog of an export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QHeaderView, QTableView, QWidget

from kiosk.ui.widgets.rows_model import RowsModel


def make_table(parent: QWidget, model: RowsModel) -> QTableView:
    table = QTableView(parent)
    table.setModel(model)
    table.setSortingEnabled(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(36)  # rows a finger can hit
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setResizeContentsPrecision(100)  # fit columns to the first 100 rows, not all of them

    def fit_once() -> None:  # the first rows set the widths; later resets keep them (and the user's)
        if model.rows:
            table.resizeColumnsToContents()
            model.modelReset.disconnect(fit_once)

    model.modelReset.connect(fit_once)
    return table


class ExportFolder:
    """The folder the last export went to, offered by the next save dialog (kept in the window's settings file
    when the app names one, else for as long as the program runs)."""

    settings: QSettings | None = None
    _folder = ""

    @classmethod
    def keep_in(cls, settings: QSettings | None) -> None:
        cls.settings = settings

    @classmethod
    def get(cls) -> Path:
        folder = str(cls.settings.value("exports/folder", "")) if cls.settings is not None else cls._folder
        return Path(folder) if folder and Path(folder).is_dir() else Path.home()

    @classmethod
    def chose(cls, path: str) -> None:
        cls._folder = str(Path(path).parent)
        if cls.settings is not None:
            cls.settings.setValue("exports/folder", cls._folder)
            cls.settings.sync()


def ask_save_path(parent: QWidget, title: str, suggested: str, then: Any) -> QFileDialog:
    """A save dialog opened with open() (no nested event loop), in the folder of the last export; `then(path)` once
    a file is chosen."""
    dialog = QFileDialog(parent, title, str(ExportFolder.get() / suggested), "CSV files (*.csv)")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("csv")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.fileSelected.connect(ExportFolder.chose)
    dialog.fileSelected.connect(then)
    dialog.open()
    return dialog
