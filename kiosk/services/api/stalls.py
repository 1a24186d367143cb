"""Stalls over the API: the tiles (place and state), restrooms and sensors, a stall's timeline, the figures' events,
and the admin's edits (restrooms, stalls, which sensor watches which stall, a legacy board's Wi-Fi reset).

Edits act as the operator whose session the call carries and are checked by the store (kiosk.store.stalls); after
each one the hub re-reads the layout, and the tiles that changed go out on the event stream (`stalls`) like every
other change of state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.core.devices import DeviceSnapshot
from kiosk.core.stalls import RestroomInfo, SensorInfo, SensorRole, StallPlace, StallView
from kiosk.protocol.answers import Created, StallTile
from kiosk.protocol.api import ApiError, bad_input
from kiosk.services.api.framework import ADMIN, DISPLAY, Call, Route, checked_text
from kiosk.store.stalls import StallDirectory

MAX_DEVICES = 200
MAX_SPAN_S = 400 * 86400.0


@dataclass(frozen=True)
class RestroomBody:
    name: str
    floor: str = ""


@dataclass(frozen=True)
class StallBody:
    label: str


@dataclass(frozen=True)
class Assignment:
    stall_id: int
    role: SensorRole


@dataclass(frozen=True)
class Span:
    since: float
    until: float


@dataclass(frozen=True)
class DeviceList:
    devices: str  # device ids, comma-separated


class StallApi:
    def __init__(self, directory: StallDirectory, tiles: Callable[[], list[tuple[StallPlace, StallView]]],
                 edited: Callable[[], None], device: Callable[[str], DeviceSnapshot | None],
                 reset_wifi: Callable[[str, Any], None]) -> None:
        self._directory = directory
        self._tiles = tiles  # the hub's stall service: every tile now
        self._edited = edited  # the hub re-reads the layout and publishes what changed
        self._device = device
        self._reset_wifi = reset_wifi

    def routes(self) -> list[Route]:
        restroom = "/stalls/restrooms/{restroom_id:\\d+}"
        sensor = "/stalls/sensors/{device_id}"
        edit_errors = ((404, "not_found"), (400, "invalid"))
        return [
            Route("GET", "/stalls", "Every stall's tile: where it is and what it shows now", self.tiles,
                  answer=list[StallTile], tag="stalls", access=DISPLAY),
            Route("GET", "/stalls/restrooms", "Restrooms with their stalls and sensors", self.restrooms,
                  answer=list[RestroomInfo], tag="stalls"),
            Route("GET", "/stalls/sensors", "Every device that can watch a stall, assigned or pending",
                  self.sensors, answer=list[SensorInfo], tag="stalls"),
            Route("GET", "/stalls/{stall_id:\\d+}/timeline", "A stall's changes in [since, until), with the state "
                  "in force at since: (time, state, reason)", self.timeline, query=Span,
                  answer=list[tuple[float, str, str]], tag="stalls"),
            Route("GET", "/stalls/events", "Every stall's changes in [since, until) (the figures): (stall, time, "
                  "state)", self.events, query=Span, answer=list[tuple[int, float, str]], tag="stalls"),
            Route("GET", "/stalls/recent-readings", "The newest readings of these sensors: (time, device, what it "
                  "said)", self.recent, query=DeviceList, answer=list[tuple[float, str, str]], tag="stalls"),
            Route("GET", "/devices/{device_id}", "A device's live state (last seen, address, firmware, counts)",
                  self.device, answer=DeviceSnapshot, tag="devices", errors=((404, "not_found"),)),
            Route("POST", "/stalls/restrooms", "Add a restroom (admin)", self.add_restroom, access=ADMIN,
                  body=RestroomBody, answer=Created, tag="stalls", errors=edit_errors),
            Route("PUT", restroom, "Rename a restroom or change its floor (admin)", self.edit_restroom,
                  access=ADMIN, body=RestroomBody, tag="stalls", errors=edit_errors),
            Route("DELETE", restroom, "Remove a restroom and its stalls (admin; their history stays)",
                  self.remove_restroom, access=ADMIN, tag="stalls", errors=edit_errors),
            Route("POST", restroom + "/stalls", "Add a stall to a restroom (admin)", self.add_stall, access=ADMIN,
                  body=StallBody, answer=Created, tag="stalls", errors=edit_errors),
            Route("DELETE", "/stalls/{stall_id:\\d+}", "Remove a stall (admin; its history stays)",
                  self.remove_stall, access=ADMIN, tag="stalls", errors=edit_errors),
            Route("PUT", sensor, "Let a sensor watch a stall as its door or thermal sensor (admin)", self.assign,
                  access=ADMIN, body=Assignment, tag="stalls", errors=edit_errors),
            Route("DELETE", sensor, "Take a sensor off its stall (admin)", self.unassign, access=ADMIN,
                  tag="stalls", errors=edit_errors),
            Route("POST", sensor + "/reset-wifi", "Make a legacy StallSense board forget its Wi-Fi (admin)",
                  self.reset_wifi, access=ADMIN, tag="stalls", errors=((404, "not_found"), (503, "unavailable"))),
        ]

    # --- readings -------------------------------------------------------------------------------------------------

    def tiles(self, call: Call) -> list[StallTile]:
        return [StallTile(place, view) for place, view in self._tiles()]

    def restrooms(self, call: Call) -> list[RestroomInfo]:
        return self._directory.restrooms()

    def sensors(self, call: Call) -> list[SensorInfo]:
        return self._directory.sensors()

    def timeline(self, call: Call) -> list[tuple[float, str, str]]:
        span = _span(call.query)
        return self._directory.timeline(int(call.params["stall_id"]), span.since, span.until)

    def events(self, call: Call) -> list[tuple[int, float, str]]:
        span = _span(call.query)
        return self._directory.events(span.since, span.until)

    def recent(self, call: Call) -> list[tuple[float, str, str]]:
        devices = [d for d in call.query.devices.split(",") if d][:MAX_DEVICES]
        return self._directory.recent_readings(devices)

    def device(self, call: Call) -> DeviceSnapshot:
        snapshot = self._device(call.params["device_id"])
        if snapshot is None:
            raise ApiError(404, "not_found", f"there is no device {call.params['device_id'][:64]!r}")
        return snapshot

    # --- the admin's edits ----------------------------------------------------------------------------------------

    def _by(self, call: Call) -> Any:
        assert call.principal is not None
        return call.principal.operator

    def add_restroom(self, call: Call) -> Created:
        body: RestroomBody = call.body
        created = self._directory.add_restroom(_text(body.name, "name"), _text(body.floor, "floor"), self._by(call))
        self._edited()
        return Created(created)

    def edit_restroom(self, call: Call) -> None:
        body: RestroomBody = call.body
        self._directory.edit_restroom(int(call.params["restroom_id"]), _text(body.name, "name"),
                                      _text(body.floor, "floor"), self._by(call))
        self._edited()

    def remove_restroom(self, call: Call) -> None:
        self._directory.remove_restroom(int(call.params["restroom_id"]), self._by(call))
        self._edited()

    def add_stall(self, call: Call) -> Created:
        created = self._directory.add_stall(int(call.params["restroom_id"]), _text(call.body.label, "label"),
                                            self._by(call))
        self._edited()
        return Created(created)

    def remove_stall(self, call: Call) -> None:
        self._directory.remove_stall(int(call.params["stall_id"]), self._by(call))
        self._edited()

    def assign(self, call: Call) -> None:
        body: Assignment = call.body
        self._directory.assign(call.params["device_id"], body.stall_id, body.role, self._by(call))
        self._edited()

    def unassign(self, call: Call) -> None:
        self._directory.unassign(call.params["device_id"], self._by(call))
        self._edited()

    def reset_wifi(self, call: Call) -> None:
        try:
            self._reset_wifi(call.params["device_id"], self._by(call))
        except ConnectionError as exc:
            raise ApiError(503, "unavailable", str(exc)) from None


def _span(span: Span) -> Span:
    if span.until <= span.since:
        raise bad_input("until", "until must be after since")
    if span.until - span.since > MAX_SPAN_S:
        raise bad_input("since", "a span is at most 400 days")
    return span


def _text(value: str, name: str) -> str:
    return checked_text(value, name, 120)
