"""What the Energy tab may ask of the hub: ports with their live status, live points, history series, alerts.

Reads only: live points come from the energy service's memory; the port list, each port's kWh today and its
always-on draw (the 5th percentile of its per-minute means over 48 h) are re-read from the database every 10 s
(ports made by the CLI or discovered on a new channel appear then).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.core.energy import BASELINE_WINDOW_S, bucket_start

DESK_ACTOR = "front desk"  # who acknowledges an alert when no admin is signed in
PORTS_REREAD_S = 10.0


class EnergyOperations:
    """Thread-safe: the window's GUI thread and the API's executor threads share one."""

    def __init__(self, store: Any, service: Any, device_names: Callable[[], dict[str, str]],
                 who: Callable[[], Any] = lambda: None) -> None:
        self._device_names = device_names
        self._who = who  # the operator signed in to the admin session, if any (named in the audit log)
        self.store = store
        self.service = service
        self._lock = threading.Lock()
        self._ports: list[Any] = []
        self._devices: dict[str, str] = {}
        self._figures: dict[str, tuple[float, float | None]] = {}  # port -> (kWh today, always-on W)
        self._read_at = 0.0

    def ports_changed(self) -> None:
        """A port was added or edited here: the service uses its rules now, the next read lists it."""
        self.service.reload_ports_if_edited()
        with self._lock:
            self._read_at = 0.0

    def _port_list(self) -> list[Any]:
        with self._lock:
            return self._read_ports()

    def _read_ports(self) -> list[Any]:
        if time.monotonic() - self._read_at > PORTS_REREAD_S or not self._ports:
            self._ports = self.store.ports()
            self._devices = self._device_names()
            now = time.time()
            today = bucket_start(now, "day")
            for port in self._ports:
                kwh = sum(k for _, k in self.store.kwh_per_day(port.id, today, now + 1))
                self._figures[port.id] = (kwh, self.store.baseline_w(port.id, now - BASELINE_WINDOW_S, now + 1))
            self._read_at = time.monotonic()
        return self._ports

    def port_rows(self) -> list[dict[str, Any]]:
        rows = []
        for port in self._port_list():
            status, watts = self.service.status(port.id)
            kwh, always_on = self._figures.get(port.id, (0.0, None))
            rows.append({"id": port.id, "name": port.name, "device": self._devices.get(port.device_id,
                                                                                      port.device_id),
                         "status": status, "watts": watts, "kwh_today": kwh, "always_on": always_on})
        return rows

    def live(self, port_id: str, since: float) -> list[tuple[float, float]]:
        return self.service.live(port_id, since)

    def series(self, port_id: str, since: float, until: float) -> Any:
        return self.store.series(port_id, since, until)

    def notifications(self) -> list[Any]:
        return self.store.notifications()

    def acknowledge(self, notification_id: int) -> None:
        operator = self._who()
        self.store.acknowledge(notification_id, operator.name if operator is not None else DESK_ACTOR)
