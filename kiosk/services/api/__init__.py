"""The hub's API for screens: `/api/v1/...` on the hub's HTTP server (docs/api.md, docs/api/openapi.json).

`framework` declares routes and answers them; `access` knows stations and operator sessions; `events` pushes
changes over a WebSocket; one module per resource (`lockers`, `energy`, `stalls`, `sessions`, `admin`) holds its
routes. `HubApi`
wires them from what the hub hands it: nothing here reaches into the hub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kiosk.core.throttle import FailureThrottle
from kiosk.protocol.api import API_PREFIX
from kiosk.services.api.access import (
    DESK_IDLE_S,
    SESSION_MAX_AGE_S,
    Access,
    Sessions,
    local_cli_token,
    local_station_token,
)
from kiosk.services.api.admin import AdminApi, AdminParts, DeviceFeed
from kiosk.services.api.energy import EnergyApi
from kiosk.services.api.events import EventHub
from kiosk.services.api.framework import DISPLAY, Api, Call
from kiosk.services.api.lockers import LockerApi
from kiosk.services.api.sessions import SessionApi
from kiosk.services.api.stalls import StallApi
from kiosk.services.energy_queries import EnergyOperations
from kiosk.store.lockers import LockerDesk
from kiosk.store.operators import OperatorDirectory


@dataclass(frozen=True)
class ApiParts:
    """What the API needs from the hub, handed in at construction."""

    data_dir: Path
    desk: LockerDesk
    lockers_changed: Callable[[], None]
    operators: OperatorDirectory
    check_device_token: Callable[[str], Any]  # token -> DeviceInfo | None
    audit: Callable[[str, str, str, str], None]  # (actor, action, target, detail)
    idle_s: Callable[[], float]
    version: str
    clock: Callable[[], float]
    energy: EnergyOperations | None = None
    stalls: StallApi | None = None
    admin: AdminParts | None = None
    desk_idle_s: Callable[[], float] = lambda: DESK_IDLE_S


class HubApi:
    def __init__(self, parts: ApiParts, throttle: FailureThrottle, max_body_bytes: int,
                 request_timeout_s: float) -> None:
        self.events = EventHub()
        self.devices = DeviceFeed(self.events)
        self.station_token = local_station_token(parts.data_dir) or ""
        self.sessions = Sessions(parts.idle_s, parts.audit, parts.clock, desk_idle_s=parts.desk_idle_s)
        self.access = Access(self.station_token, parts.check_device_token, self.sessions, throttle,
                             parts.operators.current, local_cli_token(parts.data_dir) or "")
        self._audit = parts.audit
        self.api = Api(self.access.authenticate, self._refused, max_body_bytes, request_timeout_s,
                       slow_down=self.access.failed)
        self.api.add(*SessionApi(parts.operators, self.sessions, parts.idle_s(), SESSION_MAX_AGE_S, parts.version,
                                 self.events.hub_id, parts.desk_idle_s()).routes())
        self.api.add(*LockerApi(parts.desk, self.events, parts.lockers_changed).routes())
        if parts.energy is not None:
            self.api.add(*EnergyApi(parts.energy, self.events).routes())
        if parts.stalls is not None:
            self.api.add(*parts.stalls.routes())
        if parts.admin is not None:
            self.api.add(*AdminApi(parts.admin).routes())

    def _refused(self, call: Call, what: str) -> None:
        """A refused admin action: audited with who asked, from where."""
        who = call.principal.operator.name if call.principal is not None else "?"
        station = call.principal.station if call.principal is not None else call.remote
        self._audit(who, "api.refused", what[:200], f"at {station}")

    def mount(self, app: web.Application) -> None:
        self.api.mount(app)

        async def authenticate(request: web.Request) -> Any:
            principal, _, _ = await self.access.authenticate(request, DISPLAY)
            return principal

        app.router.add_get(API_PREFIX + "/events", self.events.handler(authenticate))
        app.on_shutdown.append(self.events.on_shutdown)

    def stats(self) -> dict[str, Any]:
        """For health, metrics and the Admin tab: calls answered, refusals by code, streams and sessions open."""
        return {"calls": self.api.calls, "refused": dict(self.api.refusals.counts),
                "event_streams": self.events.open_streams(), "events_sent": self.events.published,
                "streams_dropped": self.events.dropped_streams, "sessions": self.sessions.count(),
                "wrong_tokens": self.access.refused}

    def stalls_changed(self, pairs: list[tuple[Any, Any]], complete: bool) -> None:
        """Tiles that changed (from the hub's stall service, any thread): out on the event stream."""
        if self.events.open_streams():
            self.events.publish("stalls", {"tiles": [{"place": p, "view": v} for p, v in pairs],
                                           "complete": complete})

    def status_changed(self, status: Any) -> None:
        """The hub's status (once a second, from its ticker): out on the event stream while a screen listens."""
        if self.events.open_streams():
            self.events.publish("status", status)

    def openapi(self) -> dict[str, Any]:
        return self.api.openapi()
