"""Energy over the API: the ports with their live status, live points, history series, alerts and acknowledging
them (kiosk.services.energy_queries, the same reads the hub window's Energy tab makes); and setting ports up (an
admin: add, edit, calibrate the noise floor), which the energy service uses at once."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.energy import NotificationInfo, PortInfo, PortRow, Series
from kiosk.protocol.api import ApiError, bad_input
from kiosk.services.api.events import EventHub
from kiosk.services.api.framework import ADMIN, Call, Route, checked_text
from kiosk.services.energy_queries import EnergyOperations

MAX_SPAN_S = 400 * 86400.0
LIVE_SPAN_S = 600.0


@dataclass(frozen=True)
class LiveQuery:
    since: float


@dataclass(frozen=True)
class SeriesQuery:
    since: float
    until: float


@dataclass(frozen=True)
class PortQuery:
    device_id: str = ""  # "": every device's


@dataclass(frozen=True)
class NewPort:
    device_id: str
    name: str
    channel: str | None = None  # the device's own name for it (the `port` field of its readings)
    active_w: float = 10.0
    schedule: str = ""  # when it is expected in use, e.g. "mon-fri 08:00-21:00"


@dataclass(frozen=True)
class PortChanges:
    name: str | None = None
    active_w: float | None = None
    schedule: str | None = None
    phantom_after_s: float | None = None


@dataclass(frozen=True)
class Calibration:
    minutes: float = 10.0


@dataclass(frozen=True)
class NotificationQuery:
    include_acknowledged: bool = False
    limit: int = 200


class EnergyApi:
    def __init__(self, queries: EnergyOperations, events: EventHub) -> None:
        self._queries = queries
        self._events = events

    def routes(self) -> list[Route]:
        port = "/energy/ports/{port_id}"
        return [
            Route("GET", "/energy/ports", "Every port with its status, draw now, kWh today and always-on draw",
                  self.ports, answer=list[PortRow], tag="energy"),
            Route("GET", port + "/live", "A port's readings after `since` (the last ten minutes are kept)",
                  self.live, query=LiveQuery, answer=list[tuple[float, float]], tag="energy",
                  errors=((404, "not_found"),)),
            Route("GET", port + "/series", "What a graph of [since, until) shows: raw readings for short spans, "
                  "else minute, hour or day rollups", self.series, query=SeriesQuery, answer=Series, tag="energy",
                  errors=((404, "not_found"),)),
            Route("GET", "/energy/port-settings", "How each port is set up: device, channel, thresholds, noise "
                  "floor, schedule", self.port_settings, query=PortQuery, answer=list[PortInfo], tag="energy"),
            Route("POST", "/energy/ports", "Add a port to an energy device (admin)", self.add_port, access=ADMIN,
                  body=NewPort, answer=PortInfo, tag="energy", errors=((400, "invalid"),)),
            Route("PUT", port, "Change a port's name, active threshold, schedule or phantom delay (admin)",
                  self.edit_port, access=ADMIN, body=PortChanges, answer=PortInfo, tag="energy",
                  errors=((404, "not_found"), (400, "invalid"))),
            Route("POST", port + "/calibrate", "Set a port's noise floor from its last minutes of readings, taken "
                  "with the load unplugged (admin): the floor in W", self.calibrate, access=ADMIN, body=Calibration,
                  answer=float, tag="energy", errors=((404, "not_found"), (400, "invalid"))),
            Route("GET", "/energy/notifications", "Alerts (phantom loads, devices gone quiet, overdue lockers)",
                  self.notifications, query=NotificationQuery, answer=list[NotificationInfo], tag="energy"),
            Route("POST", "/energy/notifications/{notification_id:\\d+}/acknowledge",
                  "Acknowledge an alert (named in the audit log)", self.acknowledge, tag="energy",
                  errors=((404, "not_found"),)),
        ]

    def _port(self, call: Call) -> str:
        port_id = call.params["port_id"]
        if port_id not in {p.id for p in self._queries.store.ports()}:
            raise ApiError(404, "not_found", f"there is no port {port_id[:64]!r}")
        return port_id

    def ports(self, call: Call) -> list[PortRow]:
        return [PortRow(**row) for row in self._queries.port_rows()]

    def port_settings(self, call: Call) -> list[PortInfo]:
        ports: list[PortInfo] = self._queries.store.ports(call.query.device_id or None)
        return ports

    def add_port(self, call: Call) -> PortInfo:
        body: NewPort = call.body
        port: PortInfo = self._queries.store.add_port(
            checked_text(body.device_id, "device_id", 64), checked_text(body.name, "name", 120), self._actor(call),
            None if body.channel is None else checked_text(body.channel, "channel", 64), body.active_w,
            checked_text(body.schedule, "schedule", 200))
        self._changed(port)
        return port

    def edit_port(self, call: Call) -> PortInfo:
        body: PortChanges = call.body
        port: PortInfo = self._queries.store.edit_port(self._port(call), self._actor(call), body.name,
                                                       body.active_w, body.schedule, body.phantom_after_s)
        self._changed(port)
        return port

    def calibrate(self, call: Call) -> float:
        port_id = self._port(call)
        minutes = call.body.minutes
        if not 1 <= minutes <= 24 * 60:
            raise bad_input("minutes", "minutes must be between 1 and 1440")
        floor = float(self._queries.store.calibrate(port_id, minutes, self._actor(call)))
        self._changed(None)
        return floor

    @staticmethod
    def _actor(call: Call) -> str:
        assert call.principal is not None
        return call.principal.operator.name

    def _changed(self, port: PortInfo | None) -> None:
        """The energy service uses the new rules at once; every Energy tab lists the port at its next second."""
        self._queries.ports_changed()

    def live(self, call: Call) -> list[tuple[float, float]]:
        return self._queries.live(self._port(call), call.query.since)

    def series(self, call: Call) -> Series:
        wanted: SeriesQuery = call.query
        if wanted.until <= wanted.since:
            raise bad_input("until", "until must be after since")
        if wanted.until - wanted.since > MAX_SPAN_S:
            raise bad_input("since", "a series spans at most 400 days")
        series: Series = self._queries.series(self._port(call), wanted.since, wanted.until)
        return series

    def notifications(self, call: Call) -> list[NotificationInfo]:
        wanted: NotificationQuery = call.query
        notices: list[NotificationInfo] = self._queries.store.notifications(
            open_only=not wanted.include_acknowledged, limit=max(1, min(wanted.limit, 1000)))
        return notices

    def acknowledge(self, call: Call) -> None:
        assert call.principal is not None
        notification_id = int(call.params["notification_id"])
        self._queries.store.acknowledge(notification_id, call.principal.operator.name)
        self._events.publish("notifications", {"acknowledged": [notification_id], "by": call.principal.operator.name})
