"""The notification centre's sources besides phantom loads (kiosk.services.energy): devices that stopped reporting and
lockers past their due time. Each becomes one notification row while the condition lasts (never one per tick), is
marked ended when it is over (the device is back, no locker is overdue), and stays listed until someone acknowledges
it. New ones also go out on `kiosk/notifications` (not retained), as phantom alerts do.

Threads: `devices_changed` from the hub's ticker, `device_heard` from the device worker for every accepted message
(a set lookup unless the device has an open offline notice), `lockers_counted` from the locker thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.core.devices import DeviceSnapshot, Online
from kiosk.core.operators import Operator, Role, require
from kiosk.store.energy import EnergyStore
from kiosk.store.writer import StoreWriter

log = logging.getLogger(__name__)

NOTIFICATIONS_TOPIC = "kiosk/notifications"
DEVICE_OFFLINE = "device_offline"
LOCKERS_OVERDUE = "lockers_overdue"
LOCKERS_SUBJECT = "lockers"


class Notices:
    def __init__(self, store: EnergyStore, publish: Callable[[str, bytes, bool], None],
                 clock: Callable[[], float] = time.time, writer: StoreWriter | None = None) -> None:
        self._store = store
        self._writer = writer  # a device heard again ends its notice through the writer (on the road in)
        self._publish = publish
        self._clock = clock
        self._lock = threading.Lock()
        self._offline: dict[str, int] = {}  # device id -> its open "went offline" notification
        self._unacknowledged: dict[str, int] = {}  # device id -> its newest offline notice nobody acknowledged
        self._times: dict[str, int] = {}  # how often it went offline since that notice was made
        self._overdue: int | None = None
        self._overdue_count = 0

    def load(self) -> None:
        with self._lock:
            self._offline = self._store.unended(DEVICE_OFFLINE)
            self._unacknowledged = self._store.unacknowledged(DEVICE_OFFLINE)
            self._overdue = self._store.unended(LOCKERS_OVERDUE).get(LOCKERS_SUBJECT)

    def devices_changed(self, snapshots: list[DeviceSnapshot]) -> None:
        """Devices the tracker marked "no signal" (silent for about three of their usual reports). A device that
        said it goes offline (a status message, its last will) raises nothing."""
        for snap in snapshots:
            if snap.online is Online.ONLINE and snap.id in self._offline:
                self.device_heard(snap.id)  # back (a status or a login says so): the list and the notice agree
                continue
            if snap.online is not Online.NO_SIGNAL or snap.revoked:
                continue
            with self._lock:
                if snap.id in self._offline:
                    continue
                self._offline[snap.id] = -1  # claimed: a second tick cannot make a second row
            seen = time.strftime("%H:%M", time.localtime(snap.last_seen)) if snap.last_seen else "never"
            detail = (f"{snap.name} ({snap.kind}) stopped reporting; last heard from at {seen}. Check its power "
                      "and network; this notice ends by itself when the device is back.")
            earlier = self._unacknowledged.get(snap.id)
            times = self._times.get(snap.id, 1) + 1
            title = f"{snap.name}: no signal ({times} times)"
            if earlier is not None and self._store.reopen(earlier, title, detail):
                notification = earlier  # a device that comes and goes keeps one notice until acknowledged
                self._times[snap.id] = times
            else:
                title = f"{snap.name}: no signal"
                notification = self._store.notify(DEVICE_OFFLINE, snap.id, title, detail)
                self._times[snap.id] = 1
            with self._lock:
                self._offline[snap.id] = notification
                self._unacknowledged[snap.id] = notification
            log.warning("device %s (%s): no signal (silent for about three of its reports)", snap.id, snap.name)
            self._announce(notification, DEVICE_OFFLINE, snap.id, title)

    def device_heard(self, device_id: str) -> None:
        if device_id not in self._offline:
            return  # the hot path
        with self._lock:
            notification = self._offline.pop(device_id, None)
        if notification is not None and notification > 0:
            if self._writer is not None:
                self._writer.statement(device_id, self._store.notification_ended(notification, self._clock()))
            else:
                self._store.end_notification(notification, self._clock())

    def device_removed(self, device_id: str) -> None:
        self.device_heard(device_id)
        self._unacknowledged.pop(device_id, None)

    def lockers_counted(self, overdue: int) -> None:
        with self._lock:
            before, self._overdue_count = self._overdue_count, overdue
            current = self._overdue
        if overdue and current is None:
            title = f"{overdue} locker{'s' if overdue != 1 else ''} overdue"
            notification = self._store.notify(LOCKERS_OVERDUE, LOCKERS_SUBJECT, title, _overdue_detail())
            with self._lock:
                self._overdue = notification
            self._announce(notification, LOCKERS_OVERDUE, LOCKERS_SUBJECT, title)
        elif overdue and current is not None and overdue != before:
            self._store.retitle(current, f"{overdue} locker{'s' if overdue != 1 else ''} overdue", _overdue_detail())
        elif not overdue and current is not None:
            self._store.end_notification(current, self._clock(), "Overdue lockers: all released")
            with self._lock:
                self._overdue = None

    def acknowledge(self, by: Operator, notification_ids: list[int]) -> None:
        require(by, Role.ADMIN, "acknowledge notifications here")
        for notification_id in notification_ids:
            self._store.acknowledge(notification_id, by.name)
        with self._lock:
            for device_id, notification_id in list(self._unacknowledged.items()):
                if notification_id in notification_ids:
                    del self._unacknowledged[device_id]

    def _announce(self, notification: int, kind: str, subject: str, title: str) -> None:
        payload: dict[str, Any] = {"id": notification, "kind": kind, "subject": subject, "title": title,
                                   "at": round(self._clock(), 3)}
        self._publish(NOTIFICATIONS_TOPIC, json.dumps(payload).encode(), False)


def _overdue_detail() -> str:
    return ("Members kept lockers past their due time. Lockers > Assigned now lists them (overdue in red), with "
            "Release all overdue.")
