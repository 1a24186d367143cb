"""Energy over the API: the ports with their live status, live points, history series, alerts and acknowledging
them (kiosk.services.energy_queries, the same reads the hub window's Energy tab makes)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.energy import NotificationInfo, PortRow, Series
from kiosk.protocol.api import ApiError, bad_input
from kiosk.services.api.events import EventHub
from kiosk.services.api.framework import Call, Route
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
