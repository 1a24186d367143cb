"""Commands to devices, followed through their life (kiosk.core.commands): sent when the device is online (else
queued until it is heard from again, up to the time-to-live), acknowledged on `devices/{id}/ack`, done when the effect
is seen (a restart: a smaller uptime), failed, or expired. Organisation broadcasts collect the devices' answers.

Threads: `device_message` runs on the device worker for every accepted message, so it does nothing unless the
device has an open command or the message is an answer; `send`/`broadcast` run on the caller's thread; `tick` on
the hub's ticker. One lock guards the open commands; the store is written outside it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.core import commands as rules
from kiosk.core.commands import Command
from kiosk.core.devices import DeviceSnapshot, Online
from kiosk.core.operators import Operator, Role, require
from kiosk.protocol.payloads import CommandAck, Heartbeat, StatusReport
from kiosk.protocol.topics import broadcast_topic, commands_topic
from kiosk.services.admin import AdminInputError
from kiosk.store.commands import CommandLog

log = logging.getLogger(__name__)

MAX_TTL_S = 7 * 86400.0
MAX_PARAMETERS_BYTES = 2048


def uptime_now(snap: DeviceSnapshot, now: float) -> float | None:
    """The device's uptime now, from its last report (None if it never reported one)."""
    if snap.uptime_s is None or snap.uptime_at is None:
        return None
    return snap.uptime_s + max(0.0, now - snap.uptime_at)


def check_parameters(parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise AdminInputError("Parameters must be a JSON object, e.g. {\"delay_s\": 5}.")
    if len(json.dumps(parameters)) > MAX_PARAMETERS_BYTES:
        raise AdminInputError(f"Parameters are limited to {MAX_PARAMETERS_BYTES} bytes of JSON.")
    return parameters


def check_ttl(ttl_s: float) -> float:
    if not 10 <= ttl_s <= MAX_TTL_S:
        raise AdminInputError("The time-to-live must be between 10 seconds and 7 days.")
    return ttl_s


class CommandService:
    def __init__(self, store: CommandLog, publish: Callable[[str, bytes], bool],
                 device: Callable[[str], DeviceSnapshot | None], audit: Callable[[str, str, str, str], None],
                 clock: Callable[[], float] = time.time, changed: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._publish = publish
        self._device = device
        self._audit = audit
        self._clock = clock
        self._changed = changed
        self._lock = threading.Lock()
        self._open: dict[str, Command] = {}
        self._by_device: dict[str, set[str]] = {}  # device id -> ids of its open (not broadcast) commands
        self._broadcasts: set[str] = set()

    def load(self) -> None:
        with self._lock:
            for command in self._store.open_commands():
                self._track(command)

    def _track(self, command: Command) -> None:
        if command.state.final:
            self._open.pop(command.id, None)
            self._broadcasts.discard(command.id)
            ids = self._by_device.get(command.device_id)
            if ids is not None:
                ids.discard(command.id)
                if not ids:
                    del self._by_device[command.device_id]
            return
        self._open[command.id] = command
        if rules.is_broadcast(command):
            self._broadcasts.add(command.id)
        else:
            self._by_device.setdefault(command.device_id, set()).add(command.id)

    # --- from the admin -------------------------------------------------------------------------------------------

    def send(self, by: Operator, device_ids: list[str], name: str, parameters: Any = None,
             ttl_s: float = rules.DEFAULT_TTL_S) -> list[Command]:
        """One command to each device; sent now to those online, queued for the others."""
        require(by, Role.ADMIN, "send commands to devices")
        parameters, ttl_s = check_parameters(parameters), check_ttl(ttl_s)
        if not device_ids:
            raise AdminInputError("Select at least one device.")
        snaps = {device_id: self._device(device_id) for device_id in device_ids}
        missing = [device_id for device_id, snap in snaps.items() if snap is None or snap.revoked]
        if missing:
            raise AdminInputError(f"Not a live device: {', '.join(missing[:3])}")
        now = self._clock()
        try:
            made = [rules.new_command(device_id, name, parameters, now, ttl_s) for device_id in device_ids]
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        out = []
        for command in made:
            snap = snaps[command.device_id]
            assert snap is not None
            out.append(self._try_send(command, snap, now) if snap.online is Online.ONLINE else command)
        self._store.save(out, by.name)
        with self._lock:
            for command in out:
                self._track(command)
        for command in out:
            self._audit(by.name, "device.command", command.device_id,
                        f"{command.name} {json.dumps(command.parameters)} (id {command.id}, {command.state.value})")
        self._changed()
        return out

    def broadcast(self, by: Operator, organization: str, name: str, parameters: Any = None,
                  ttl_s: float = rules.DEFAULT_TTL_S) -> Command:
        require(by, Role.ADMIN, "broadcast commands")
        parameters, ttl_s = check_parameters(parameters), check_ttl(ttl_s)
        try:
            command = rules.new_broadcast(organization, name, parameters, self._clock(), ttl_s)
        except ValueError as exc:
            raise AdminInputError(str(exc)) from None
        if not self._publish(broadcast_topic(organization), json.dumps(command.payload()).encode()):
            raise AdminInputError("The hub is not connected to the broker right now; try again in a moment.")
        self._store.save([command], by.name)
        with self._lock:
            self._track(command)
        self._audit(by.name, "organization.broadcast", organization,
                    f"{command.name} {json.dumps(command.parameters)} (id {command.id})")
        self._changed()
        return command

    def _try_send(self, command: Command, snap: DeviceSnapshot, now: float) -> Command:
        if self._publish(commands_topic(command.device_id), json.dumps(command.payload()).encode()):
            return rules.sent(command, now, uptime_now(snap, now))
        return command  # stays queued: tried again when the device is next heard from

    # --- from devices (device worker thread) ----------------------------------------------------------------------

    def device_message(self, device_id: str, message: Any, snap: DeviceSnapshot) -> None:
        if device_id not in self._by_device and not (isinstance(message, CommandAck) and self._broadcasts):
            return  # the hot path: no open command for this device
        now = self._clock()
        changed: list[Command] = []
        with self._lock:
            for command_id in list(self._by_device.get(device_id, ())):
                command = self._open[command_id]
                new = command
                if command.state is rules.CommandState.QUEUED:
                    new = self._try_send(command, snap, now)
                if isinstance(message, CommandAck) and message.command_id == command.id:
                    new = rules.acknowledged(new, now, message.ok, message.detail)
                elif isinstance(message, (Heartbeat, StatusReport)) and message.uptime_s is not None:
                    new = rules.heartbeat(new, now, message.uptime_s)
                if new is not command:
                    changed.append(new)
                    self._track(new)
            if isinstance(message, CommandAck) and message.command_id in self._broadcasts:
                new = rules.broadcast_answer(self._open[message.command_id], now, device_id, message.ok,
                                             message.detail)
                changed.append(new)
                self._track(new)
        if changed:
            self._store.save(changed)
            self._changed()

    def tick(self) -> None:
        """Expire what has outlived its time-to-live (the hub's ticker, every few seconds)."""
        now = self._clock()
        changed = []
        with self._lock:
            for command in list(self._open.values()):
                new = rules.tick(command, now)
                if new is not command:
                    changed.append(new)
                    self._track(new)
        if changed:
            self._store.save(changed)
            self._changed()

    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    def recent(self, limit: int = 200, device_id: str | None = None) -> list[tuple[Command, str]]:
        return self._store.recent(limit, device_id)
