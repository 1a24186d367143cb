"""A page part that may be taller (or wider) than the screen: it scrolls instead of growing the window."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


def scrolled(content: QWidget, parent: QWidget | None = None) -> QScrollArea:
    """`content` in a frameless scroll area that resizes it to the width it has: at 1366x768 or 1280x720 the page
    scrolls where the content is taller than the room, and the window keeps the size of the screen."""
    area = QScrollArea(parent)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(content)
    return area
