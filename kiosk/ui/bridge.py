"""The bridge: the one QObject worker code talks to (DESIGN.md section 3).

Workers call `device_changed` / `hub_status` from any thread; those only store the latest frozen snapshot under a
lock. A 50 ms timer on the GUI thread drains them and emits one batch per tick, so a burst of 1,000 messages costs
the GUI one model update, not 1,000.

Signals:
    devicesChanged(list): snapshots (kiosk.core.devices.DeviceSnapshot) that changed since the last tick.
    devicesRemoved(list): ids of devices an admin deleted since the last tick.
    stallsChanged(list, bool): (StallPlace, StallView) pairs of the stalls whose tile changed since the last tick;
        True when the list is every stall there is (after an edit: drop tiles not in it).
    statusChanged(object): the latest kiosk.services.hub.HubStatus.
    lockersChanged(): another station or the CLI changed lockers or members (this station's own changes are shown
        by the view that made them).
    servicesReady(): the hub's services are running.
    servicesFailed(str): the hub could not start; the text says why.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

DRAIN_MS = 50


class Bridge(QObject):
    devicesChanged = Signal(list)
    devicesRemoved = Signal(list)
    stallsChanged = Signal(list, bool)
    _stallsPending = Signal()
    statusChanged = Signal(object)
    lockersChanged = Signal()
    servicesReady = Signal()
    servicesFailed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._devices: dict[str, Any] = {}
        self._removed: list[str] = []
        self._stalls: dict[int, Any] = {}
        self._stalls_complete = False
        self._status: Any = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()
        self._stallsPending.connect(self._drain_stalls, Qt.ConnectionType.QueuedConnection)

    def device_changed(self, snapshot: Any) -> None:
        with self._lock:
            self._devices[snapshot.id] = snapshot

    def device_removed(self, device_id: str) -> None:
        with self._lock:
            self._devices.pop(device_id, None)
            self._removed.append(device_id)

    def hub_status(self, status: Any) -> None:
        with self._lock:
            self._status = status

    def stalls_changed(self, views: list[Any], complete: bool = False) -> None:
        """Stall tiles are not held for the 50 ms tick: the first change of a burst queues a drain on the GUI
        thread, and whatever arrives before that drain runs joins it (bench/stalls.py, 500 stalls with bursts of
        100 changes: publish -> tile p99 160 ms with the tick, 97 ms without)."""
        with self._lock:
            first = not self._stalls and not self._stalls_complete
            if complete:
                self._stalls, self._stalls_complete = {}, True
            for place, view in views:
                self._stalls[place.stall_id] = (place, view)
        if first:
            self._stallsPending.emit()

    def lockers_changed(self) -> None:
        self.lockersChanged.emit()  # from the hub's locker thread: queued to the GUI thread's receivers

    def drain(self) -> None:
        with self._lock:
            devices, self._devices = list(self._devices.values()), {}
            removed, self._removed = self._removed, []
            status, self._status = self._status, None
        if removed:
            self.devicesRemoved.emit(removed)
        if devices:
            self.devicesChanged.emit(devices)
        self._drain_stalls()
        if status is not None:
            self.statusChanged.emit(status)

    def _drain_stalls(self) -> None:
        with self._lock:
            stalls, self._stalls = list(self._stalls.values()), {}
            complete, self._stalls_complete = self._stalls_complete, False
        if stalls or complete:
            self.stallsChanged.emit(stalls, complete)
