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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import paho.mqtt.client as mqtt

from kiosk.core.devices import DeviceInfo
from kiosk.core.stalls import SensorRole
from kiosk.services.mqtt_client import BrokerAddress, close_client, new_client
from kiosk.store.devices import DeviceRegistry
from kiosk.store.energy import EnergyStore
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
    serial_boards: int = 1  # virtual USB boards (pseudo-terminals the hub opens like real ones)
    http_meters: int = 1  # meters that post their readings over HTTP
    standby_cycle_s: float = 1800.0  # the last port of each meter: in use a third of this, in standby the rest


def provision(registry: DeviceRegistry, data_dir: Path, plan: SimulationPlan,
              announce: Callable[[DeviceInfo], None] = lambda _info: None) -> list[DemoDevice]:
    """The demo devices for the plan: reused from the demo file when still valid, created otherwise."""
    path = Path(data_dir) / DEMO_FILE
    known = _read(path)
    wanted = ([("stall", f"Demo stall {i + 1}") for i in range(plan.stalls)]
              + [("energy", f"Demo meter {i + 1}") for i in range(plan.meters)]
              + [("esp32", f"Demo ESP32 {i + 1}") for i in range(plan.esp32)]
              + [("energy", f"Demo HTTP meter {i + 1}") for i in range(plan.http_meters)])
    devices = []
    for kind, name in wanted:
        earlier = next((d for d in known if d.name == name), None)
        info = registry.get(earlier.id) if earlier is not None else None
        if earlier is not None and info is not None:
            if info.revoked:  # an admin revoked it: it stays so, and no second device of that name appears
                log.info("demo device %s was revoked: not simulated (delete it to get a new one)", name)
                continue
            if registry.check(earlier.id, earlier.token).device:
                devices.append(earlier)
                continue
            token = registry.rotate(earlier.id, "simulator", reason="the demo's token no longer matched")
            devices.append(DemoDevice(earlier.id, token, name, kind))  # the same device, a token it knows
            continue
        info, token = registry.create(name, kind, actor="simulator", organization="demo")
        announce(info)
        devices.append(DemoDevice(info.id, token, name, kind))
    named = {d.name for d in devices}
    _write(path, devices + [d for d in known if d.name not in named and registry.get(d.id) is not None])  # revoked
    return devices


DEMO_RESTROOM = "Demo restroom"


def demo_http_ports(store: EnergyStore, devices: list[DemoDevice]) -> dict[str, str]:
    """HTTP readings name an existing port: one per demo HTTP meter (made once). Returns device id -> port id."""
    ports = {}
    for device in devices:
        if device.name.startswith("Demo HTTP meter"):
            existing = store.ports(device.id)
            port = existing[0] if existing else store.add_port(device.id, "Printer", "simulator")
            ports[device.id] = port.id
    return ports


def demo_power(rng: random.Random, plan: SimulationPlan, port: int, ports: int, elapsed: float
               ) -> tuple[float, float, float]:
    """(voltage, current, power) of a demo port now: the last port of a device cycles between use and standby
    (about 3.5 W), so that the Energy tab shows phantom load after a while; the others are in use."""
    voltage = rng.uniform(*plan.voltage)
    if port == ports and (elapsed % plan.standby_cycle_s) > plan.standby_cycle_s / 3:
        current = max(0.0, rng.gauss(3.5, 0.3)) / voltage
    else:
        current = rng.uniform(*plan.current)
    return round(voltage, 2), round(current, 4), round(voltage * current, 2)


DEMO_MARKER = "demo-devices"  # in the data folder while the demonstration is on


class Demonstration:
    """Demonstration devices (stall sensors, energy meters) with a demo restroom and roster when there are none:
    what the empty Devices page offers; started once, stopped with the hub."""

    def __init__(self, registry: DeviceRegistry, data_dir: Path, address: Callable[[], BrokerAddress],
                 http_port: Callable[[], int], announce: Callable[[DeviceInfo], None], stalls: StallDirectory,
                 stalls_edited: Callable[[], None], lockers: LockerDesk, lockers_changed: Callable[[], None]) -> None:
        self._registry = registry
        self._data_dir = data_dir
        self._address = address
        self._http_port = http_port
        self._announce = announce
        self._stalls = stalls
        self._stalls_edited = stalls_edited
        self._lockers = lockers
        self._lockers_changed = lockers_changed
        self._lock = threading.Lock()
        self._simulator: Simulator | None = None

    def start(self) -> bool:
        """False when the demonstration runs already."""
        with self._lock:
            if self._simulator is not None:
                return False
            simulator, devices = build_simulator(self._registry, self._data_dir, self._address(), self._http_port(),
                                                 SimulationPlan(), announce=self._announce)
            if demo_restroom(self._stalls, devices):
                self._stalls_edited()
            if demo_roster(self._lockers):
                self._lockers_changed()
            self._simulator = simulator
        simulator.start()
        try:  # remembered: after a restart of the hub the demo devices report again (resume)
            (self._data_dir / DEMO_MARKER).write_text("the demonstration devices run; delete to stop them at the "
                                                      "next start\n", encoding="utf-8")
        except OSError as exc:
            log.warning("could not remember the demonstration (%s): it will not restart by itself", exc)
        log.info("demonstration devices started")
        return True

    def resume(self) -> bool:
        """At the hub's start: the demonstration runs again if it ran before (its devices would go silent and raise
        no-signal notices otherwise)."""
        if not (self._data_dir / DEMO_MARKER).exists():
            return False
        log.info("the demonstration devices ran before this start: starting them again")
        return self.start()

    def stop(self) -> None:
        with self._lock:
            simulator, self._simulator = self._simulator, None
        if simulator is not None:
            simulator.stop()


def build_simulator(registry: DeviceRegistry, data_dir: Path, address: BrokerAddress, http_port: int,
                    plan: SimulationPlan, announce: Callable[[DeviceInfo], None] = lambda _info: None
                    ) -> tuple[Simulator, list[DemoDevice]]:
    """The demo devices on all three roads: MQTT clients, virtual USB boards in the data folder, HTTP meters (only
    when the hub's HTTP server is on)."""
    if not http_port:
        plan = replace(plan, http_meters=0)
    devices = provision(registry, data_dir, plan, announce)
    ports = demo_http_ports(EnergyStore(registry.engine), devices)
    url = f"http://{address.host}:{http_port}/api/sensor/reading"
    return Simulator(address, devices, plan, data_dir=data_dir, http_url=url, http_ports=ports), devices


HELLO_REPORTS = 6  # a virtual board greets before each of its first reports (see Simulator._serial)


class VirtualBoard:
    """A USB energy board without the USB: a pseudo-terminal whose other end is linked into the hub's data folder
    (`serial/`), where the hub's serial worker finds and opens it like a real board."""

    def __init__(self, links_dir: Path, name: str) -> None:
        import pty
        import tty

        self.name = name
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        links_dir.mkdir(parents=True, exist_ok=True)
        self.link = links_dir / name
        if self.link.is_symlink() or self.link.exists():
            self.link.unlink()
        self.link.symlink_to(self.path)
        self.said_hello = False
        self.reports = 0

    def line(self, body: dict[str, object]) -> None:
        try:
            os.write(self.master, json.dumps(body).encode() + b"\r\n")
        except OSError:
            pass  # nobody has the port open yet: a real board's output is lost the same way

    def close(self) -> None:
        try:
            self.link.unlink()
        except OSError:
            pass
        os.close(self.master)


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
                 rng: random.Random | None = None, data_dir: Path | None = None, http_url: str = "",
                 http_ports: dict[str, str] | None = None) -> None:
        self._address = address
        self._boards = ([VirtualBoard(Path(data_dir) / "serial", f"sim-board-{i + 1}")
                         for i in range(plan.serial_boards)] if data_dir is not None else [])
        self._http_url = http_url
        self._http_ports = http_ports or {}
        self._seq = 0
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
            if device.id in self._http_ports:
                continue  # posts over HTTP, no MQTT client
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
        for board in self._boards:
            board.close()

    def _run(self) -> None:
        due: dict[str, float] = {d.id: time.monotonic() for d in self._devices}
        due.update({board.name: time.monotonic() for board in self._boards})
        while not self._stop.is_set():
            now = time.monotonic()
            for device in self._devices:
                if now >= due[device.id]:
                    if device.id in self._http_ports:
                        due[device.id] = now + self._post(device)
                    else:
                        due[device.id] = now + (self._publish(device) if device.id in self._online else 0.1)
            for board in self._boards:
                if now >= due[board.name]:
                    due[board.name] = now + self._serial(board)
            self._stop.wait(max(0.05, min(due.values()) - time.monotonic()))

    def _serial(self, board: VirtualBoard) -> float:
        """A virtual board's hello, then one reading per port. A real Arduino resets when the port is opened and
        greets the hub first; a pseudo-terminal cannot tell when the hub opens it, so the virtual board greets before
        each of its first reports (and every minute after), and the hub never sees its readings before a hello."""
        if not board.said_hello or board.reports < HELLO_REPORTS or self._seq % 12 == 0:
            board.line({"hello": "kiosk-energy", "board": board.name, "firmware": "sim-1.0"})
            board.said_hello = True
        board.reports += 1
        for port in range(1, self._plan.ports_per_meter + 1):
            voltage, current, power = demo_power(self._rng, self._plan, port, self._plan.ports_per_meter,
                                                 time.monotonic() - self._started)
            board.line({"port": str(port), "voltage": voltage, "current": current, "power": power,
                        "seq": self._seq})
            self._seq += 1
            self.published += 1
        return self._plan.interval_s

    def _post(self, device: DemoDevice) -> float:
        import urllib.error
        import urllib.request

        voltage, current, power = demo_power(self._rng, self._plan, 1, 1, time.monotonic() - self._started)
        body = json.dumps({"deviceToken": device.token, "portId": self._http_ports[device.id], "voltage": voltage,
                           "current": current, "power": power}).encode()
        request = urllib.request.Request(self._http_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5):
                self.published += 1
        except (urllib.error.URLError, OSError) as exc:
            log.warning("simulated HTTP meter %s: %s", device.name, exc)
        return self._plan.interval_s

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
                voltage, current, power = demo_power(self._rng, self._plan, port, self._plan.ports_per_meter,
                                                     time.monotonic() - self._started)
                body = {"port": str(port), "voltage": voltage, "current": current, "power": power}
                client.publish(f"devices/{device.id}/datastream", json.dumps(body))
                self.published += 1
            return self._plan.interval_s
        uptime = time.monotonic() - self._started
        body = {"uptime": round(uptime), "rssi": self._rng.randint(-80, -40), "fw": "1.0.0", "ip": "127.0.0.1"}
        client.publish(f"device/{device.id}/status", json.dumps(body))
        self.published += 1
        return self._plan.heartbeat_s
