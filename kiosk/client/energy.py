"""The Energy tab's reads over the hub's API: the same methods as kiosk.services.energy_queries.EnergyOperations.

The tab polls once a second; while the hub cannot be reached those polls answer what was last known (ports, alerts)
or nothing new (live points) instead of raising every second: the station's banner says the hub is gone. A history
series and an acknowledgement raise, and the tab says so where it shows them.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from kiosk.client.http import ApiClient, HubUnreachable
from kiosk.core.energy import NotificationInfo, PortRow, Series


class RemoteEnergy:
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._rows: list[dict[str, Any]] = []
        self._notices: list[NotificationInfo] = []
        self.unreachable = 0  # polls answered from memory because the hub could not be reached

    def port_rows(self) -> list[dict[str, Any]]:
        try:
            rows: list[PortRow] = self.client.get("/energy/ports", list[PortRow])
        except HubUnreachable:
            self.unreachable += 1
            return self._rows
        self._rows = [{f.name: getattr(row, f.name) for f in dataclasses.fields(row)} for row in rows]
        return self._rows

    def live(self, port_id: str, since: float) -> list[tuple[float, float]]:
        try:
            points: list[tuple[float, float]] = self.client.get(f"/energy/ports/{quote(port_id, safe='')}/live",
                                                                list[tuple[float, float]], since=since)
        except HubUnreachable:
            self.unreachable += 1
            return []
        return points

    def series(self, port_id: str, since: float, until: float) -> Series:
        series: Series = self.client.get(f"/energy/ports/{quote(port_id, safe='')}/series", Series, since=since,
                                         until=until)
        return series

    def notifications(self) -> list[NotificationInfo]:
        try:
            self._notices = self.client.get("/energy/notifications", list[NotificationInfo])
        except HubUnreachable:
            self.unreachable += 1
        return self._notices

    def acknowledge(self, notification_id: int) -> None:
        self.client.post(f"/energy/notifications/{int(notification_id)}/acknowledge", {})
