"""DESIGN.md 3a: PySide6 6.12.0 drops a reference to None on every call that returns nothing, and Python 3.11
aborts with `none_dealloc`. This catches a return of that bug (a version bump past the pin) within seconds."""

import gc
import sys

from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage, QPainter, QPen


def test_painter_calls_do_not_eat_references_to_none(qapp: object) -> None:
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    pen, start, end = QPen(), QPoint(0, 0), QPoint(10, 10)
    gc.collect()
    gc.disable()  # a collection during the loop frees objects that refer to None and lowers the count honestly
    try:
        before = sys.getrefcount(None)
        for _ in range(3000):
            painter.setPen(pen)
            painter.drawLine(start, end)
        after = sys.getrefcount(None)
    finally:
        gc.enable()
        painter.end()
    # The 6.12.0 bug loses one reference per call: 6,000 here.
    assert after >= before - 600, f"None lost {before - after} references in 6,000 painter calls"
