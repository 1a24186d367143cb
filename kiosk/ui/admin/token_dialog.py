"""Shows a device's new token once: the text, a copy button and a QR code a provisioning phone can scan.

The token is in this dialog's memory only; closing it clears the fields. It is never logged (tests grep the log).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


def qr_image(text: str, size: int) -> QImage:
    """A QR code (error correction M) of `text`, black on white, at least `size` pixels, whole modules only."""
    import segno

    matrix = segno.make(text, error="m", micro=False).matrix
    modules = len(matrix) + 2 * QUIET_ZONE
    scale = max(1, size // modules)
    image = QImage(modules * scale, modules * scale, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(QRect((x + QUIET_ZONE) * scale, (y + QUIET_ZONE) * scale, scale, scale),
                                 QColor("black"))
    painter.end()
    return image


USE = {
    "": "Write it into the device now, or scan the code with the provisioning app. The device logs in to MQTT with "
        "username = device id and password = token.",
    "station": "On the second desk's PC, start <code>kiosk --station --hub HUB_URL</code> with the token in "
               "<code>KIOSK_STATION_TOKEN</code> (or in the file named by <code>station.token_file</code>); the code "
               "holds the hub's address and the token. A station talks to the hub's API only, never to its broker.",
    "display": "On the wall display's PC, give the device id as <code>KIOSK_BROKER_USERNAME</code> and the token as "
               "<code>KIOSK_BROKER_PASSWORD</code>: the display logs in to the hub's broker and may only read the "
               "stalls' state.",
}


class TokenDialog(QDialog):
    def __init__(self, title: str, device_name: str, device_id: str, token: str, qr_text: str,
                 parent: QWidget | None = None, kind: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        intro = QLabel(f"<b>{_escape(device_name)}</b>: the token is shown <b>only this once</b>. "
                       + USE.get(kind, USE[""]), self)
        intro.setWordWrap(True)
        self.device_id = self._read_only(device_id)
        self.token = self._read_only(token)
        self.copy_id = self._copy_button(self.device_id)
        self.copy_token = self._copy_button(self.token)
        form = QFormLayout()
        form.addRow("Device id", self._with(self.device_id, self.copy_id))
        form.addRow("Token", self._with(self.token, self.copy_token))
        self.qr = QLabel(self)
        self.qr.setObjectName("tokenQr")
        self.qr.setPixmap(QPixmap.fromImage(qr_image(qr_text, 280)))
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setToolTip("Station id, token and this hub's API address" if kind == "station"
                           else "Device id, token and this hub's broker address")
        self.copied = QLabel("", self)
        buttons = QDialogButtonBox(self)
        done = buttons.addButton("I have saved it", QDialogButtonBox.ButtonRole.AcceptRole)
        done.setMinimumHeight(44)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.qr)
        layout.addWidget(self.copied)
        layout.addWidget(buttons)
        self.setMinimumSize(QSize(560, 0))

    def _read_only(self, text: str) -> QLineEdit:
        field = QLineEdit(text, self)
        field.setReadOnly(True)
        field.setMinimumHeight(40)
        field.setCursorPosition(0)
        return field

    def _copy_button(self, field: QLineEdit) -> QPushButton:
        button = QPushButton("Copy", self)
        button.setMinimumHeight(40)
        button.clicked.connect(lambda: self._copy(field))
        return button

    def _with(self, field: QLineEdit, button: QPushButton) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(field, 1)
        row.addWidget(button)
        return row

    def _copy(self, field: QLineEdit) -> None:
        QGuiApplication.clipboard().setText(field.text())
        self.copied.setText("Copied to the clipboard.")

    def done(self, result: int) -> None:
        self.token.clear()  # the token lives no longer than the dialog
        super().done(result)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
