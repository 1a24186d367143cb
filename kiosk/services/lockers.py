"""Keeps the lockers' counts on MQTT for wall displays and notices changes made by other stations.

One thread wakes at once when this station changed something (`changed()`, from any thread) and every few seconds
otherwise: then it reads the audit log after its last marker (another station or the CLI) and recounts (lockers turn
overdue with time, without any event). Counts go out retained on `kiosk/state/lockers`, only when they change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kiosk.core.lockers import LockerCounts
from kiosk.protocol.state import LOCKERS_TOPIC, locker_counts_payload
from kiosk.store.lockers import LockerDesk

log = logging.getLogger(__name__)
POLL_S = 5.0


class LockerService:
    def __init__(self, desk: LockerDesk, publish: Callable[[str, bytes, bool], None],
                 on_external_change: Callable[[], None], poll_s: float = POLL_S,
                 on_counts: Callable[[int], None] = lambda overdue: None,
                 on_unannounced: Callable[[], None] = lambda: None) -> None:
        self._desk = desk
        self._publish = publish
        self._on_external_change = on_external_change
        self._on_counts = on_counts  # the number overdue, after every count (the notification centre)
        self._on_unannounced = on_unannounced  # a change the API's event stream has not announced (window, CLI)
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._marker = 0
        self._local_marker = 0  # the newest change this window made (it has shown it already)
        self._api_marker = 0  # the newest change made through the API (the event stream announced it)
        self.counts: LockerCounts | None = None
        self._published: LockerCounts | None = None

    def start(self) -> None:
        self._marker = self._api_marker = self._desk.changed_since(0)
        self._refresh(force=True)
        self._thread = threading.Thread(target=self._run, name="lockers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def changed(self, elsewhere: bool = False) -> None:
        """Lockers or members changed: recount and publish now (returns at once). `elsewhere`: the change came
        through the API (another station, the CLI), so this window is told too; otherwise it was this window's."""
        if elsewhere:
            self._api_marker = self._desk.changed_since(self._api_marker)
        else:
            self._local_marker = self._desk.changed_since(self._local_marker)
        self._wake.set()

    def republish(self) -> None:
        """The broker link came back: the retained counts go out again."""
        self._published = None
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._refresh()
            except Exception:
                log.exception("lockers: could not refresh the counts; trying again in %.0f s", self._poll_s)

    def _refresh(self, force: bool = False) -> None:
        marker = self._desk.changed_since(self._marker)
        if marker != self._marker:
            external = marker > self._local_marker
            unannounced = marker > self._api_marker
            self._marker = marker
            if external:  # not (only) this station's own change, which its window has already shown
                self._on_external_change()
            if unannounced:  # the window's or the CLI's: the stations hear of it from here
                self._on_unannounced()
        counts = self._desk.counts()
        self.counts = counts
        self._on_counts(counts.overdue)
        if force or counts != self._published:
            self._publish(LOCKERS_TOPIC, locker_counts_payload(counts.free, counts.in_use, counts.overdue,
                                                               counts.out_of_order), True)
            self._published = counts
