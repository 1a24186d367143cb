"""Loads the QSS theme from resources/ (large touch targets, readable type).

In a checkout (and an editable install) it is the repository's `resources/kiosk.qss`; an installed wheel (the Debian
package, pip) carries it as data under `{sys.prefix}/share/front-desk-kiosk/`, and a PyInstaller bundle beside the
program (`sys._MEIPASS`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

NAME = "kiosk.qss"
PLACES = (Path(__file__).resolve().parents[2] / "resources",
          Path(sys.prefix) / "share" / "front-desk-kiosk",
          Path(getattr(sys, "_MEIPASS", "/nonexistent")) / "resources")


def theme_file() -> Path | None:
    return next((place / NAME for place in PLACES if (place / NAME).exists()), None)


def apply(app: QApplication) -> None:
    path = theme_file()
    if path is not None:
        app.setStyleSheet(path.read_text(encoding="utf-8"))
