"""Optional WebSocket and TLS listeners, and the device worker on an external broker (nothing assumes the embedded
one)."""

import json
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config import Config
from kiosk.services.broker.gatekeeper import Credentials, Gatekeeper
from kiosk.services.broker.service import BrokerService, ListenerSpec
from kiosk.services.hub import Hub
from kiosk.services.loop import ServiceLoop
from kiosk.services.mqtt_client import close_client
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry
from kiosk.store.models import StallReading
from tests.helpers import free_port, wait_for


def paho_connect(client: mqtt.Client, port: int, username: str, password: str) -> Any:
    outcome: dict[str, Any] = {}
    client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, rc, _p: outcome.setdefault("rc", rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_for(lambda: "rc" in outcome)
    return outcome["rc"]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def test_websocket_and_tls_listeners_authenticate_devices(config: Config, events: Any,
                                                         certificate: tuple[str, str]) -> None:
    ws_port, tls_port = free_port(), free_port()
    cfg = config.with_overrides(broker__websocket=True, broker__websocket_port=ws_port, broker__tls=True,
                                broker__tls_port=tls_port, broker__tls_cert=certificate[0],
                                broker__tls_key=certificate[1])
    hub = Hub(cfg, events)
    hub.start()
    try:
        info, token = hub.registry.create("Stall W-2", "stall", "test")
        ws = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets", protocol=mqtt.MQTTv311)
        assert paho_connect(ws, ws_port, info.id, token) == 0
        tls = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        tls.tls_set(ca_certs=certificate[0], cert_reqs=ssl.CERT_REQUIRED)
        tls.tls_insecure_set(True)  # the test certificate names localhost, the client dials 127.0.0.1
        assert paho_connect(tls, tls_port, info.id, token) == 0
        wrong = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets", protocol=mqtt.MQTTv311)
        assert paho_connect(wrong, ws_port, info.id, "wrong").is_failure
        for client in (ws, tls, wrong):
            close_client(client)
    finally:
        hub.stop()


def test_tls_port_without_certificate_is_a_clear_error(config: Config, events: Any) -> None:
    hub = Hub(config.with_overrides(broker__tls=True, broker__tls_port=free_port()), events)
    with pytest.raises(ValueError, match="tls_cert"):
        hub.start()
    hub.stop()


@pytest.fixture
def external_broker(tmp_path: Path) -> Iterator[tuple[int, Credentials, DeviceRegistry]]:
    """Another broker, not started by the hub, with its own accounts (stands in for Mosquitto or EMQX)."""
    registry = DeviceRegistry(open_store(f"sqlite:///{tmp_path / 'external.db'}"))
    account = Credentials("hub-on-external", "external-secret")
    port = free_port()
    loop = ServiceLoop()
    loop.start()
    broker = BrokerService(ListenerSpec("127.0.0.1", port), Gatekeeper(registry, account))
    loop.run(broker.start())
    yield port, account, registry
    loop.run(broker.stop())
    loop.stop()


def test_the_hub_ingests_from_an_external_broker(config: Config, events: Any, external_broker: Any) -> None:
    port, account, external_registry = external_broker
    cfg = config.with_overrides(broker__url=f"mqtt://127.0.0.1:{port}", broker__username=account.username,
                                broker__password=account.password)
    hub = Hub(cfg, events)
    assert hub.broker is None  # no embedded broker is started
    hub.start()
    try:
        assert hub.link.connected.wait(10)
        info, _ = hub.registry.create("Stall W-2", "stall", "test")
        device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        # The external broker knows the device by its own registry; the hub by the id in the topic.
        ext_info, ext_token = external_registry.create("Stall W-2", "stall", "test")
        assert paho_connect(device, port, ext_info.id, ext_token) == 0
        device.publish(f"devices/{ext_info.id}/datastream", json.dumps({"occupied": True}), qos=1).wait_for_publish(5)
        wait_for(lambda: hub.ingest.unknown_devices == 1)  # that id is not registered with the hub: refused
        hub.link.publish(f"devices/{info.id}/datastream", json.dumps({"occupied": True}), qos=1)
        with Session(hub.engine) as session:
            wait_for(lambda: session.scalars(select(StallReading)).first())
        close_client(device)
    finally:
        hub.stop()
