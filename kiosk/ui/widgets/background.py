"""Runs slow reads (history over a million rows, figures, exports) off the GUI thread and delivers on it.

Each `run` starts one short-lived thread; the result (or the exception) comes back through a queued signal to the
callback on the GUI thread. A newer `run` on the same Background makes an older result stale: it is dropped, so a
quick filter change never shows the previous query's rows.

Signals:
    busyChanged(bool): a job started (True) or the last one ended (False).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)


class Background(QObject):
    busyChanged = Signal(bool)
    _finished = Signal(int, object, object)  # generation, result, error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[Exception], None]]] = {}
        self._threads: list[threading.Thread] = []
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def run(self, work: Callable[[], Any], then: Callable[[Any], None],
            failed: Callable[[Exception], None]) -> int:
        self._generation += 1
        generation = self._generation
        was_busy = self.busy
        self._callbacks = {generation: (then, failed)}  # older jobs finish but are not delivered

        def body() -> None:
            try:
                result, error = work(), None
            except (ConnectionError, PermissionError, LookupError, ValueError) as exc:  # an answer, not a bug
                log.debug("background job refused: %s", exc)  # `failed` shows it in words
                result, error = None, exc
            except Exception as exc:  # delivered to `failed` on the GUI thread
                log.exception("background job failed")
                result, error = None, exc
            self._finished.emit(generation, result, error)

        thread = threading.Thread(target=body, name="ui-background", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        if not was_busy:
            self.busyChanged.emit(True)
        return generation

    def wait(self, timeout: float = 10.0) -> None:
        """Join the running jobs (closing the window, tests)."""
        for thread in self._threads:
            thread.join(timeout)

    def _deliver(self, generation: int, result: Any, error: Any) -> None:
        callbacks = self._callbacks.pop(generation, None)
        if callbacks is None:
            return
        if not self._callbacks:
            self.busyChanged.emit(False)
        then, failed = callbacks
        if error is None:
            then(result)
        else:
            failed(error)
