"""Card swipes anywhere in a window: a USB card reader "types" the card's number and Enter, faster than a person.

`CardReader` watches the key presses of one window (an event filter on QApplication). A run of at least `min_chars`
printable characters, each within `max_gap_ms` of the one before, ended by Enter within the same gap, is a swipe:
`swiped(text)` is emitted for the locker desk and none of it reaches the widget that has the focus (a stall tile does
not open its detail, a table does not jump to a row). The first character of a run cannot be told from a person's
yet and goes through; it is taken out of a text field again when the run turns out to be a swipe. Characters held
back from a run that does not end in a swipe (a fast typist's two keys) are delivered as they were, in order, before
the next key. An open dialog keeps its input, and so does the widget `leave_to` names (the desk's own scan field).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
MAX_GAP_MS = 50  # readers send a key every 2-20 ms; a fast typist is 80 ms and more between keys
MIN_CHARS = 4
TEXT_MODIFIERS = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier


class CardReader(QObject):
    """Signals:
        swiped(str): a card's text (without the Enter), read anywhere in the window.
    """

    swiped = Signal(str)

    def __init__(self, window: QWidget, max_gap_ms: float = MAX_GAP_MS, min_chars: int = MIN_CHARS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window)
        self._window = window
        self.max_gap_s = max_gap_ms / 1000
        self.min_chars = max(2, min_chars)
        self._clock = clock
        self._chars: list[str] = []  # the run so far (its first character went through)
        self._held: list[tuple[QObject, QKeyEvent]] = []  # the rest of the run, not delivered yet
        self._first_target: QObject | None = None
        self._last = 0.0
        self._replaying = False
        self.leave_to: Callable[[QObject | None], bool] = lambda widget: False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self._give_back)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def stop(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._replaying or event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        focus = QApplication.focusWidget()
        if watched is not (focus or self._window):
            return False  # the same key on its way through the window or up the parents: seen once
        if (QApplication.activeModalWidget() is not None or (focus is not None and focus.window() is not self._window)
                or self.leave_to(focus) or event.isAutoRepeat()):
            self._give_back()
            return False  # a dialog, another window or the desk's scan field keeps its input
        now = self._clock()
        in_run = bool(self._chars) and now - self._last <= self.max_gap_s
        self._last = now
        if event.key() in ENTER_KEYS:
            if in_run and len(self._chars) >= self.min_chars:
                self._swipe(focus)
                return True
            self._give_back()
            return False
        char = event.text()
        if len(char) != 1 or not char.isprintable() or event.modifiers() & ~TEXT_MODIFIERS:
            self._give_back()
            return False
        if not in_run:
            self._give_back()
            self._chars, self._first_target = [char], watched
            self._flush_timer.start(int(self.max_gap_s * 1000) + 1)
            return False
        self._chars.append(char)
        self._held.append((watched, QKeyEvent(event.type(), event.key(), event.modifiers(), char)))
        self._flush_timer.start(int(self.max_gap_s * 1000) + 1)
        return True

    def _swipe(self, focus: QWidget | None) -> None:
        text = "".join(self._chars)
        first = self._chars[0]
        if isinstance(self._first_target, QLineEdit) and self._first_target.text().endswith(first):
            self._first_target.backspace()
        self._chars, self._held, self._first_target = [], [], None
        self._flush_timer.stop()
        self.swiped.emit(text)

    def _give_back(self) -> None:
        """A run that was no swipe: its held characters go to where they were typed, in order."""
        self._flush_timer.stop()
        held, self._held, self._chars, self._first_target = self._held, [], [], None
        self._replaying = True
        try:
            for target, event in held:
                QApplication.sendEvent(target, event)
        finally:
            self._replaying = False
