"""The Stalls tab's operations over the hub's API: the methods the tab calls (tests/in_process has the same on
the store, for the views' own tests).

Edits need an admin's session open on the client (kiosk.client.session); refusals raise the store's own exceptions
(`StallsError` with its sentence, `PermissionError`), so the tab's dialogs show them as they always have.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kiosk.client.http import ApiClient, HubUnreachable
from kiosk.core.devices import DeviceSnapshot
from kiosk.core.stalls import RestroomInfo, SensorInfo, SensorRole, StallPlace, StallsError, StallView
from kiosk.protocol.answers import Created, StallTile
from kiosk.protocol.api import ApiError, from_wire


def tiles_of(data: Any) -> list[tuple[StallPlace, StallView]]:
    """(place, view) pairs from a `stalls` event's or GET /stalls's tiles."""
    tiles: list[StallTile] = from_wire(list[StallTile], data)
    return [(tile.place, tile.view) for tile in tiles]


class RemoteStalls:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def _edit(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.client.call(method, path, Any, body=body, session=True)
        except ApiError as exc:
            if exc.status in (401, 403):
                raise PermissionError(exc.message) from None
            if exc.status == 404 and exc.error == "not_found":
                raise LookupError(exc.message) from None
            raise StallsError(exc.message) from None
        except HubUnreachable as exc:
            raise StallsError(f"{exc}; nothing was changed") from None

    def tiles(self) -> list[tuple[StallPlace, StallView]]:
        return tiles_of(self.client.get("/stalls"))

    def restrooms(self) -> list[RestroomInfo]:
        restrooms: list[RestroomInfo] = self.client.get("/stalls/restrooms", list[RestroomInfo])
        return restrooms

    def sensors(self) -> list[SensorInfo]:
        sensors: list[SensorInfo] = self.client.get("/stalls/sensors", list[SensorInfo])
        return sensors

    def add_restroom(self, name: str, floor: str) -> int:
        created: Created = from_wire(Created, self._edit("POST", "/stalls/restrooms", {"name": name,
                                                                                        "floor": floor}))
        return created.id

    def edit_restroom(self, restroom_id: int, name: str, floor: str) -> None:
        self._edit("PUT", f"/stalls/restrooms/{int(restroom_id)}", {"name": name, "floor": floor})

    def remove_restroom(self, restroom_id: int) -> None:
        self._edit("DELETE", f"/stalls/restrooms/{int(restroom_id)}")

    def add_stall(self, restroom_id: int, label: str) -> int:
        created: Created = from_wire(Created, self._edit("POST", f"/stalls/restrooms/{int(restroom_id)}/stalls",
                                                           {"label": label}))
        return created.id

    def remove_stall(self, stall_id: int) -> None:
        self._edit("DELETE", f"/stalls/{int(stall_id)}")

    def assign(self, device_id: str, stall_id: int, role: SensorRole) -> None:
        self._edit("PUT", f"/stalls/sensors/{quote(device_id, safe='')}", {"stall_id": stall_id,
                                                                           "role": role.value})

    def unassign(self, device_id: str) -> None:
        self._edit("DELETE", f"/stalls/sensors/{quote(device_id, safe='')}")

    def reset_wifi(self, device_id: str) -> None:
        try:
            self.client.call("POST", f"/stalls/sensors/{quote(device_id, safe='')}/reset-wifi", Any, body={},
                             session=True)
        except ApiError as exc:
            if exc.status in (401, 403):
                raise PermissionError(exc.message) from None
            if exc.status == 503:
                raise ConnectionError(exc.message) from None
            raise LookupError(exc.message) from None

    def device(self, device_id: str) -> DeviceSnapshot | None:
        try:
            snapshot: DeviceSnapshot = self.client.get(f"/devices/{quote(device_id, safe='')}", DeviceSnapshot)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return snapshot

    def timeline(self, stall_id: int, since: float, until: float) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = self.client.get(f"/stalls/{int(stall_id)}/timeline",
                                                             list[tuple[float, str, str]], since=since, until=until)
        return rows

    def recent_readings(self, device_ids: list[str]) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = self.client.get("/stalls/recent-readings",
                                                             list[tuple[float, str, str]],
                                                             devices=",".join(device_ids))
        return rows

    def events(self, since: float, until: float) -> list[tuple[int, float, str]]:
        rows: list[tuple[int, float, str]] = self.client.get("/stalls/events", list[tuple[int, float, str]],
                                                             since=since, until=until)
        return rows
