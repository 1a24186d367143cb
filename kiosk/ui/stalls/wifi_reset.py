"""The Wi-Fi reset of a legacy StallSense board: a confirmation that says what it does, then the hub sends it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def confirm_wifi_reset(parent: QWidget, name: str, then: Callable[[], None]) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, "Reset Wi-Fi",
                      f"Send {name} its Wi-Fi reset?\n\nThe board forgets its network settings and reboots; someone "
                      "must then set up its Wi-Fi again on site. Its stall shows NO SIGNAL until then.",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.accepted.connect(then)
    box.open()


def send_wifi_reset(ops: Any, device_id: str, name: str) -> str:
    """Send it; returns what to tell the admin."""
    try:
        ops.reset_wifi(device_id)
    except (LookupError, ConnectionError) as exc:
        return f"Not sent: {exc}"
    return f"Wi-Fi reset sent to {name} (written to the audit log)."
