"""Simulated devices for demos and benchmarks: stall sensors, energy meters with ports, ESP32 heartbeats.

Each simulated device is provisioned through the device registry like any real one (a real token, hashed in the
database) and logs in to the broker with it. Tokens of demo devices are kept in `demo-devices.json` (mode 0600) in
the data directory so that a restarted simulator reuses the same devices.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from kiosk.core.devices import DeviceInfo
from kiosk.core.stalls import SensorRole
from kiosk.services.mqtt_client import BrokerAddress, close_client, new_client
from kiosk.store.devices import DeviceRegistry
from kiosk.store.lockers import LockerDesk, Operator, Role
from kiosk.store.stalls import StallDirectory

log = logging.getLogger(__name__)
DEMO_FILE = "demo-devices.json"


@dataclass(frozen=True)
class DemoDevice:
    id: str
    token: str
    name: str
    kind: str


@dataclass(frozen=True)
class SimulationPlan:
    stalls: int = 4
    meters: int = 2
    ports_per_meter: int = 2
    esp32: int = 1
    interval_s: float = 5.0
    voltage: tuple[float, float] = (220.0, 240.0)
    current: tuple[float, float] = (0.3, 0.8)
    stall_report_s: float = 10.0
    heartbeat_s: float = 30.0


def provision(registry: DeviceRegistry, data_dir: Path, plan: SimulationPlan,
              announce: Callable[[DeviceInfo], None] = lambda _info: None) -> list[DemoDevice]:
    """The demo devices for the plan: reused from the demo file when still valid, created otherwise."""
    path = Path(data_dir) / DEMO_FILE
    known = _read(path)
    wanted = ([("stall", f"Demo stall {i + 1}") for i in range(plan.stalls)]
              + [("energy", f"Demo meter {i + 1}") for i in range(plan.meters)]
              + [("esp32", f"Demo ESP32 {i + 1}") for i in range(plan.esp32)])
    devices = []
    for kind, name in wanted:
        reuse = next((d for d in known if d.name == name and registry.check(d.id, d.token).device), None)
        if reuse is None:
            info, token = registry.create(name, kind, actor="simulator", organization="demo")
            announce(info)
            reuse = DemoDevice(info.id, token, name, kind)
        devices.append(reuse)
    _write(path, devices)
    return devices


DEMO_RESTROOM = "Demo restroom"


def demo_restroom(directory: StallDirectory, devices: list[DemoDevice]) -> bool:
    """A demo restroom whose stalls are watched by the demo stall sensors; False if it exists already."""
    if any(r.name == DEMO_RESTROOM for r in directory.restrooms()):
        return False
    room = directory.add_restroom(DEMO_RESTROOM, "G", "simulator")
    for n, device in enumerate(d for d in devices if d.kind == "stall"):
        stall = directory.add_stall(room, str(n + 1), "simulator")
        directory.assign(device.id, stall, SensorRole.COMBINED, "simulator")
    return True


def demo_roster(desk: LockerDesk) -> bool:
    """The ten demo students (kiosk.core.lockers.DEMO_ROSTER) on the roster; False if they are all there."""
    from kiosk.core.lockers import demo_roster_csv, preview_roster

    return desk.import_roster(preview_roster(demo_roster_csv(), desk.enrollments()),
                              Operator("simulator", Role.STAFF)) > 0


def _read(path: Path) -> list[DemoDevice]:
    try:
        return [DemoDevice(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    except (FileNotFoundError, ValueError, TypeError):
        return []


def _write(path: Path, devices: list[DemoDevice]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump([asdict(d) for d in devices], handle, indent=1)


class Simulator:
    """Runs demo devices against a broker until `stop()`; one paho client per device, one scheduling thread."""

    def __init__(self, address: BrokerAddress, devices: list[DemoDevice], plan: SimulationPlan,
                 rng: random.Random | None = None) -> None:
        self._address = address
        self._devices = devices
        self._plan = plan
        self._rng = rng or random.Random()
        self._clients: dict[str, mqtt.Client] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._occupied: dict[str, bool] = {}
        self._online: set[str] = set()  # paho drops QoS 0 messages published before CONNACK: wait for it
        self._started = time.monotonic()
        self.published = 0

    def start(self) -> None:
        for device in self._devices:
            client = new_client(f"sim-{device.id[:8]}", device.id, device.token)
            client.on_connect = self._connected_handler(device.id)
            client.on_disconnect = self._disconnected_handler(device.id)
            client.connect_async(self._address.host, self._address.port, keepalive=30)
            client.loop_start()
            self._clients[device.id] = client
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()

    def _connected_handler(self, device_id: str) -> Callable[..., None]:
        def connected(_client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                      _props: object) -> None:
            if reason.is_failure:
                log.error("simulated device %s was refused by the broker: %s", device_id, reason)
            else:
                self._online.add(device_id)
        return connected

    def _disconnected_handler(self, device_id: str) -> Callable[..., None]:
        def disconnected(*_args: object) -> None:
            self._online.discard(device_id)
        return disconnected

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for client in self._clients.values():
            close_client(client)

    def _run(self) -> None:
        due: dict[str, float] = {d.id: time.monotonic() for d in self._devices}
        while not self._stop.is_set():
            now = time.monotonic()
            for device in self._devices:
                if now >= due[device.id]:
                    due[device.id] = now + (self._publish(device) if device.id in self._online else 0.1)
            self._stop.wait(max(0.05, min(due.values()) - time.monotonic()))

    def _publish(self, device: DemoDevice) -> float:
        """Publish what this device sends now; returns seconds until it sends again."""
        client = self._clients[device.id]
        if device.kind == "stall":
            occupied = self._occupied.get(device.id, False)
            if self._rng.random() < 0.3:
                occupied = not occupied
            self._occupied[device.id] = occupied
            body = {"occupied": occupied, "door": "closed" if occupied else "open", "thermal": occupied}
            client.publish(f"devices/{device.id}/datastream", json.dumps(body))
            self.published += 1
            return self._plan.stall_report_s
        if device.kind == "energy":
            for port in range(1, self._plan.ports_per_meter + 1):
                voltage = self._rng.uniform(*self._plan.voltage)
                current = self._rng.uniform(*self._plan.current)
                body = {"port": f"port-{port}", "voltage": round(voltage, 2), "current": round(current, 3),
                        "power": round(voltage * current, 2)}
                client.publish(f"devices/{device.id}/datastream", json.dumps(body))
                self.published += 1
            return self._plan.interval_s
        uptime = time.monotonic() - self._started
        body = {"uptime": round(uptime), "rssi": self._rng.randint(-80, -40), "fw": "1.0.0", "ip": "127.0.0.1"}
        client.publish(f"device/{device.id}/status", json.dumps(body))
        self.published += 1
        return self._plan.heartbeat_s
