"""Loads the QSS theme from resources/ (large touch targets, readable type)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

THEME = Path(__file__).resolve().parents[2] / "resources" / "kiosk.qss"


def apply(app: QApplication) -> None:
    if THEME.exists():
        app.setStyleSheet(THEME.read_text(encoding="utf-8"))
