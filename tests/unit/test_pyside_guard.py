"""DESIGN.md 3a: PySide6 6.12.0 drops a reference to None on every call that returns nothing, and Python 3.11
aborts with `none_dealloc`. This catches a return of that bug (a version bump past the pin) within seconds."""

import sys

from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage, QPainter, QPen


def test_painter_calls_do_not_eat_references_to_none(qapp: object) -> None:
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(3000):
        painter.setPen(QPen())
        painter.drawLine(QPoint(0, 0), QPoint(10, 10))
    after = sys.getrefcount(None)
    painter.end()
    assert after >= before - 100, f"None lost {before - after} references in 6,000 painter calls"
