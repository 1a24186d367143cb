"""What the screens hear from the hub: device, stall, locker and status changes.

The hub's own listener (a headless hub's log; in tests a recorder) hears them first, then the API's event stream
that every screen follows (kiosk.services.api.events), once the API exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from kiosk.core.devices import DeviceSnapshot
from kiosk.core.stalls import StallPlace, StallView
from kiosk.core.status import HubStatus

if TYPE_CHECKING:
    from kiosk.services.api import HubApi


class HubEvents(Protocol):
    def device_changed(self, snapshot: DeviceSnapshot) -> None: ...

    def hub_status(self, status: HubStatus) -> None: ...

    def stalls_changed(self, views: list[tuple[StallPlace, StallView]], complete: bool = False) -> None: ...

    def lockers_changed(self) -> None: ...

    def device_removed(self, device_id: str) -> None: ...


class ScreensTee:
    """HubEvents to this process's listener and to the API's event stream (`api`, set once it is built)."""

    def __init__(self, events: HubEvents) -> None:
        self._events = events
        self.api: HubApi | None = None

    def device_changed(self, snapshot: DeviceSnapshot) -> None:
        self._events.device_changed(snapshot)
        if self.api is not None:
            self.api.devices.changed(snapshot)

    def device_removed(self, device_id: str) -> None:
        self._events.device_removed(device_id)
        if self.api is not None:
            self.api.devices.removed(device_id)

    def hub_status(self, status: HubStatus) -> None:
        self._events.hub_status(status)
        if self.api is not None:
            self.api.status_changed(status)

    def stalls_changed(self, views: list[tuple[StallPlace, StallView]], complete: bool = False) -> None:
        self._events.stalls_changed(views, complete)
        if self.api is not None:
            self.api.stalls_changed(views, complete)

    def lockers_changed(self) -> None:
        self._events.lockers_changed()
