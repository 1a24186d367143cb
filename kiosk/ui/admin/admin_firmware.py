"""Admin > Firmware: the site's public key, the uploaded images, rollouts and every device's update job.

Upload: pick the .bin, give its version and device kind; the kiosk checks it, computes its SHA-256 and signs it (off
the GUI thread). Update: every device of the image's kind that runs an older version, or the devices ticked in a list.
The jobs table follows the rollout (pending, ordered, downloading, verified, updating, updated, failed) every 2 s
while on screen.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.devices import KINDS
from kiosk.core.ota import out_of_date
from kiosk.ui.admin.admin_common import attempt, make_table, open_dialog
from kiosk.ui.admin.device_dialogs import KIND_WORDS
from kiosk.ui.widgets.background import Background

REFRESH_MS = 2000
JOB_COLOURS = {"updated": "#1b7f3a", "failed": "#b3261e", "pending": "#5f6368"}


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.2f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


class UploadDialog(QDialog):
    """Version and kind of an image file already chosen."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.setWindowTitle("Upload firmware")
        self.setModal(True)
        self.setMinimumWidth(480)
        self.version = QLineEdit(self)
        self.version.setPlaceholderText("e.g. 1.4.2")
        self.kind = QComboBox(self)
        for kind in KINDS:
            self.kind.addItem(KIND_WORDS.get(kind, kind), kind)
        self.kind.setCurrentIndex(max(0, self.kind.findData("esp32")))
        for widget in (self.version, self.kind):
            widget.setMinimumHeight(40)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        form = QFormLayout()
        form.addRow("File", QLabel(path.name, self))
        form.addRow("Version", self.version)
        form.addRow("For devices of kind", self.kind)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.addButton("Upload and sign", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setMinimumHeight(40)
        self.buttons.accepted.connect(self._upload)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.version.setFocus()
        self.upload: Any = None  # set by the page: (dialog) -> None; calls done() or show_error()

    def _upload(self) -> None:
        if not self.version.text().strip():
            self.error.setText("Give the image's version.")
            return
        self.ok.setEnabled(False)
        self.error.setText("Checking, hashing and signing…")
        self.upload(self)

    def show_error(self, text: str) -> None:
        self.ok.setEnabled(True)
        self.error.setText(text)


class DevicePicker(QDialog):
    """Tick the devices to update; those running an older version are ticked to begin with."""

    def __init__(self, image: Any, devices: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Update to {image.kind} {image.version}")
        self.setModal(True)
        self.setMinimumSize(480, 420)
        self.list = QListWidget(self)
        for snap in sorted(devices, key=lambda s: s.name.lower()):
            away = "" if snap.online.value == "online" else f" ({snap.online.value}: updated when back)"
            item = QListWidgetItem(f"{snap.name}: running {snap.firmware or 'unknown'}{away}")
            item.setData(Qt.ItemDataRole.UserRole, snap.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            behind = out_of_date(snap.firmware, image.version)
            item.setCheckState(Qt.CheckState.Checked if behind else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        ok = buttons.addButton("Start update", QDialogButtonBox.ButtonRole.AcceptRole)
        ok.setMinimumHeight(40)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Devices of kind {image.kind}:", self))
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)

    def chosen(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]


class FirmwarePage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops: Any = None
        self.dialog: Any = None
        self._images: list[Any] = []
        self._background = Background(self)  # reads for the tables
        self._uploads = Background(self)
        self.key = QLineEdit(self)
        self.key.setReadOnly(True)
        self.key.setObjectName("publicKey")
        self.copy_key = QPushButton("Copy", self)
        self.copy_key.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.key.text()))
        key_row = QHBoxLayout()
        key_row.addWidget(QLabel("Site public key (Ed25519), embedded in firmware built for this site:", self))
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.copy_key)
        self.upload_button = QPushButton("Upload image…", self)
        self.update_all_button = QPushButton("Update all out of date", self)
        self.update_some_button = QPushButton("Update devices…", self)
        self.delete_button = QPushButton("Delete image", self)
        bar = QHBoxLayout()
        for button in (self.upload_button, self.update_all_button, self.update_some_button, self.delete_button):
            button.setMinimumHeight(40)
            bar.addWidget(button)
        bar.addStretch(1)
        self.images = make_table(self, ["Kind", "Version", "File", "Size", "SHA-256", "Uploaded", "By", "Out of date"])
        self.jobs = make_table(self, ["Device", "From", "To", "State", "Detail", "Updated", "By"])
        self.jobs_summary = QLabel("", self)
        lower = QWidget(self)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.jobs_summary)
        lower_layout.addWidget(self.jobs)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.images)
        splitter.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addLayout(key_row)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        self.upload_button.clicked.connect(self.choose_file)
        self.update_all_button.clicked.connect(self.update_all)
        self.update_some_button.clicked.connect(self.open_picker)
        self.delete_button.clicked.connect(self.delete_selected)
        self.images.itemSelectionChanged.connect(self._selection_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._selection_changed()

    def attach(self, operations: Any) -> None:
        self.ops = operations
        self.key.setText(operations.public_key())
        self.key.setCursorPosition(0)

    def selected_image(self) -> Any:
        rows = self.images.selectionModel().selectedRows()
        return self._images[rows[0].row()] if rows and rows[0].row() < len(self._images) else None

    def _selection_changed(self) -> None:
        chosen = self.selected_image() is not None
        for button in (self.update_all_button, self.update_some_button, self.delete_button):
            button.setEnabled(chosen)

    # --- reading --------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.ops is None or not self.isVisible():
            return
        ops = self.ops

        def read() -> tuple[list, dict, list, dict]:
            images = ops.firmware_images()
            behind = {image.id: len(ops.out_of_date(image)) for image in images}
            return images, behind, ops.update_jobs(), ops.device_names()

        self._background.run(read, self._show, lambda error: self.jobs_summary.setText(f"Could not read: {error}"))

    def _show(self, result: tuple[list, dict, list, dict]) -> None:
        images, behind, jobs, names = result
        selected = self.selected_image()
        self._images = images
        self.images.setRowCount(len(images))
        for row, image in enumerate(images):
            values = (image.kind, image.version, image.filename, _size(image.size), image.sha256[:16] + "…",
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(image.uploaded_at)), image.uploaded_by,
                      str(behind.get(image.id, 0)))
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 4:
                    item.setToolTip(f"SHA-256 {image.sha256}\nsignature {image.signature}")
                self.images.setItem(row, column, item)
            if selected is not None and image.id == selected.id:
                self.images.selectRow(row)
        self.images.resizeColumnsToContents()
        self.jobs.setRowCount(len(jobs))
        active = 0
        for row, (job, from_version, actor) in enumerate(jobs):
            active += not job.state.final
            values = (names.get(job.device_id, job.device_id), from_version or "unknown", job.version,
                      job.state.value, job.detail, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.updated_at)),
                      actor)
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 3 and job.state.value in JOB_COLOURS:
                    item.setForeground(QColor(JOB_COLOURS[job.state.value]))
                self.jobs.setItem(row, column, item)
        self.jobs.resizeColumnsToContents()
        self.jobs_summary.setText(f"Updates: {active} under way, {len(jobs) - active} finished"
                                  if jobs else "No updates yet. Select an image and start one.")
        self._selection_changed()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    # --- actions --------------------------------------------------------------------------------------------------

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Firmware image", str(Path.home()),
                                              "Firmware images (*.bin);;All files (*)")
        if path:
            self.open_upload(Path(path))

    def open_upload(self, path: Path) -> UploadDialog:
        dialog = UploadDialog(path, self)
        dialog.upload = self._upload
        self._open(dialog)
        return dialog

    def _upload(self, dialog: UploadDialog) -> None:
        ops, path = self.ops, dialog.path
        version, kind = dialog.version.text().strip(), dialog.kind.currentData()

        def work() -> Any:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ValueError(f"Could not read {path.name}: {exc.strerror or exc}") from None
            return ops.upload_firmware(kind, version, path.name, data)

        def done(_image: Any) -> None:
            dialog.accept()
            self.refresh()

        def failed(error: Exception) -> None:
            dialog.show_error(str(error) if isinstance(error, (ValueError, PermissionError))
                              else "The image could not be stored; see the log.")

        self._uploads.run(work, done, failed)

    def update_all(self) -> None:
        image = self.selected_image()
        if image is not None:
            self._try(lambda: self.ops.start_update(image.id, None))

    def open_picker(self) -> DevicePicker | None:
        image = self.selected_image()
        if image is None or self.ops is None:
            return None
        picker = DevicePicker(image, self.ops.devices_of_kind(image.kind), self)
        picker.accepted.connect(lambda: self._try(lambda: self.ops.start_update(image.id, picker.chosen())))
        self._open(picker)
        return picker

    def delete_selected(self) -> None:
        image = self.selected_image()
        if image is None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete image",
                          f"Delete {image.kind} {image.version} ({image.filename})? Devices can no longer download "
                          "it; their history keeps the version.", parent=self)
        box.addButton(QMessageBox.StandardButton.Cancel)
        go = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        go.clicked.connect(lambda: self._try(lambda: self.ops.delete_firmware(image.id)))
        self._open(box)

    def _try(self, work: Any) -> None:
        attempt(self, work)
        self.refresh()

    def _open(self, dialog: Any) -> None:
        open_dialog(self, dialog)

    def wait(self) -> None:
        self._background.wait()
        self._uploads.wait()
