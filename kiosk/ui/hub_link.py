"""The desk window's link to its hub: every tab's operations over the API (kiosk.client) and the hub's event
stream fed into the window's bridge, as if the hub were in this process.

`attach(client)` (on the GUI thread) makes the operations and opens the stream. The first `hello` reads the devices
and tiles and emits the bridge's servicesReady: the tabs attach. Later a `devices`, `status`, `stalls`, `lockers` or
`notifications` event reaches the same bridge slots the in-process hub used to call. A lost stream says so
(`connectionChanged`); when it is back everything is read again, and a hub that restarted meanwhile (a new hub id)
also signs the admin out, whose session it no longer knows.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from kiosk.client.admin import RemoteAdmin
from kiosk.client.energy import RemoteEnergy
from kiosk.client.events import EventStream
from kiosk.client.http import ApiClient
from kiosk.client.lockers import RemoteLockers
from kiosk.client.session import RemoteOperators
from kiosk.client.stalls import RemoteStalls, tiles_of
from kiosk.core.devices import DeviceSnapshot
from kiosk.core.status import HubStatus
from kiosk.protocol.answers import DeviceChanges
from kiosk.protocol.api import ApiError, from_wire
from kiosk.ui.bridge import Bridge

log = logging.getLogger(__name__)


class HubLink(QObject):
    """Signals:
        found(object, bool): emit from any thread with an ApiClient for the hub (and whether this window started
            it): the link attaches on the GUI thread.
        foundHub(bool): attached; True when this window started the hub.
        connectionChanged(bool, str): the hub's stream is up (True) or lost (False, with why), on the GUI thread.
        hubRestarted(): the stream came back from a hub started anew (sessions on it are gone).
        notificationsChanged(): alerts were raised or acknowledged.
    """

    found = Signal(object, bool)  # (ApiClient, started here) from the starter's thread: attach on the GUI thread
    foundHub = Signal(bool)  # attached; True when this window started the hub
    connectionChanged = Signal(bool, str)
    hubRestarted = Signal()
    notificationsChanged = Signal()
    _event = Signal(dict)
    _state = Signal(bool, str)

    def __init__(self, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.client: ApiClient | None = None
        self.lockers: RemoteLockers | None = None
        self.stalls: RemoteStalls | None = None
        self.energy: RemoteEnergy | None = None
        self.admin: RemoteAdmin | None = None
        self.operators: RemoteOperators | None = None
        self.stream: EventStream | None = None
        self.hub_id: str | None = None
        self.connected = False
        self._known_devices: set[str] = set()  # the stream's thread and the GUI thread: under _known_lock
        self._known_lock = threading.Lock()
        self.found.connect(self._found, Qt.ConnectionType.QueuedConnection)
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        self._state.connect(self._on_state, Qt.ConnectionType.QueuedConnection)

    def _found(self, client: ApiClient, started_here: bool) -> None:
        self.attach(client)
        self.foundHub.emit(started_here)

    def attach(self, client: ApiClient) -> None:
        """Talk to the hub through `client` (this machine's station token); the tabs attach at its first hello."""
        if self.client is not None:
            return
        self.client = client
        self.lockers = RemoteLockers(client)
        self.stalls = RemoteStalls(client)
        self.energy = RemoteEnergy(client)
        self.admin = RemoteAdmin(client)
        self.operators = self.admin.directory  # the admin session signs in (and out) on the hub here
        self.stream = EventStream(client.websocket_target, self._from_stream, self._state.emit)
        self.stream.start()

    def unreachable(self, detail: str) -> None:
        """From any thread: the hub cannot be reached yet (its service is not running, say); shown as a lost link."""
        self._state.emit(False, detail)

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.stream = None
        if self.client is not None:
            self.client.close()

    def _on_state(self, connected: bool, detail: str) -> None:
        self.connected = connected
        self.connectionChanged.emit(connected, detail)

    def _from_stream(self, event: dict[str, Any]) -> None:
        """On the stream's thread: devices, stalls and the status are read here and handed to the bridge (which
        takes them from any thread and gives the GUI one batch per tick); the rest goes to the GUI thread. Reading
        a burst of 100 tiles on the GUI thread held it in bench/stalls.py."""
        topic = event.get("topic")
        data = event.get("data")
        try:
            if topic == "devices":
                changes: DeviceChanges = from_wire(DeviceChanges, data)
                with self._known_lock:
                    self._known_devices.difference_update(changes.removed)
                    self._known_devices.update(snapshot.id for snapshot in changes.changed)
                for device_id in changes.removed:
                    self.bridge.device_removed(device_id)
                for snapshot in changes.changed:
                    self.bridge.device_changed(snapshot)
            elif topic == "status":
                self.bridge.hub_status(from_wire(HubStatus, data))
            elif topic == "stalls":
                tiles = data or {}
                self.bridge.stalls_changed(tiles_of(tiles.get("tiles") or []), bool(tiles.get("complete")))
            else:
                self._event.emit(event)
        except ApiError as exc:  # an event this window cannot read: say so, keep the stream
            log.warning("an event from the hub could not be read (%s): %s", topic, exc)

    def _on_event(self, event: dict[str, Any]) -> None:
        topic = event.get("topic")
        data = event.get("data")
        try:
            if topic == "hello":
                self._hello(data or {})
            elif topic == "lockers" and self.lockers is not None:
                self.lockers.event(data, int(event.get("seq") or 0))
                self.bridge.lockersChanged.emit()
            elif topic == "notifications":
                self.notificationsChanged.emit()
        except ApiError as exc:  # an event this window cannot read: say so once, keep the stream
            log.warning("an event from the hub could not be read (%s): %s", topic, exc)
        except ConnectionError as exc:
            self._on_state(False, str(exc))

    def _hello(self, data: dict[str, Any]) -> None:
        first = self.hub_id is None
        restarted = not first and data.get("hub") != self.hub_id
        self.hub_id = data.get("hub")
        self._read_everything()
        if first:
            self.bridge.servicesReady.emit()
        elif restarted:
            log.info("the hub restarted: everything was read again")
            self.hubRestarted.emit()
        if not first:
            self.bridge.lockersChanged.emit()

    def _read_everything(self) -> None:
        """What the stream may have missed: every device, every tile, the status, the lockers' board."""
        assert self.admin is not None and self.stalls is not None and self.lockers is not None
        snapshots: list[DeviceSnapshot] = self.admin.devices()
        with self._known_lock:
            gone = self._known_devices - {s.id for s in snapshots}
            self._known_devices = {s.id for s in snapshots}
        for device_id in gone:
            self.bridge.device_removed(device_id)
        for snapshot in snapshots:
            self.bridge.device_changed(snapshot)
        self.bridge.stalls_changed(self.stalls.tiles(), True)
        self.bridge.hub_status(self.admin.status())
        self.lockers.invalidate()
