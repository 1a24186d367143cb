"""The two brokers every conformance test runs against, in the same test run: the embedded broker (amqtt 0.12.1 with
the fixes in kiosk/services/broker/fixes.py) and Mosquitto (Debian's package; packaging/system-deps.sh installs it).

Both get the same accounts (two devices and the hub's internal account) and the same rule: a device uses only
`devices/{its id}/...` (Mosquitto: `pattern readwrite devices/%u/#`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.services.broker.gatekeeper import Credentials, Gatekeeper, internal_credentials
from kiosk.services.broker.service import BrokerService, ListenerSpec
from kiosk.services.loop import ServiceLoop
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry
from tests.helpers import Device, connect, free_port, read_packet, wait_for


@dataclass
class Broker:
    name: str
    port: int
    internal: Credentials
    devices: list[Credentials]

    def client(self, who: Credentials | None, **kwargs: object) -> Device:
        return connect(self.port, who.username if who else None, who.password if who else None, **kwargs)

    def raw(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


def kiosk_broker(tmp: Path) -> Iterator[Broker]:
    registry = DeviceRegistry(open_store(f"sqlite:///{tmp / 'kiosk.db'}"))
    devices = [registry.create(f"device {n}", "sensor", "test") for n in range(2)]
    internal = internal_credentials(tmp)
    port = free_port()
    loop = ServiceLoop()
    loop.start()
    service = BrokerService(ListenerSpec("127.0.0.1", port, connect_timeout_s=2), Gatekeeper(registry, internal))
    loop.run(service.start())
    yield Broker("kiosk", port, internal, [Credentials(info.id, token) for info, token in devices])
    loop.run(service.stop())
    loop.stop()


def mosquitto_broker(tmp: Path) -> Iterator[Broker]:
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto is not installed (packaging/system-deps.sh installs it)")
    internal = Credentials("kiosk-internal", "internal-secret")
    devices = [Credentials(f"0000000{n}-aaaa-4bbb-8ccc-dddddddddddd", f"token-{n}") for n in range(2)]
    passwd, acl, conf = tmp / "passwd", tmp / "acl", tmp / "mosquitto.conf"
    passwd.touch()
    for who in [internal, *devices]:
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), who.username, who.password], check=True,
                       capture_output=True)
    acl.write_text("user kiosk-internal\ntopic readwrite #\n\n"
                   "pattern readwrite devices/%u/#\npattern readwrite device/%u/#\n")
    port = free_port()
    # As root, Mosquitto switches to the user "mosquitto", who cannot read pytest's private temporary folder.
    run_as = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                    f"persistence false\nlog_dest none\n{run_as}")
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    wait_for(listening, timeout=10)
    yield Broker("mosquitto", port, internal, devices)
    process.terminate()
    process.wait(10)


@pytest.fixture(params=["kiosk", "mosquitto"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    make = kiosk_broker if request.param == "kiosk" else mosquitto_broker
    yield from make(tmp_path)


def watch_devices(broker: Broker) -> Device:
    """The hub's view: a client of the internal account subscribed to every device topic."""
    watcher = broker.client(broker.internal)
    watcher.subscribe("devices/#", 1)
    return watcher


def connack(sock: socket.socket) -> tuple[int, int]:
    kind, _flags, body = read_packet(sock)
    assert kind == 2
    return body[0], body[1]  # (session present, return code)


