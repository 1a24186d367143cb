"""A PUBACK means the reading is on disk (issue 13): the broker journals a device's message before it answers."""

import json
import socket
import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.store.models import Telemetry
from tests.helpers import closed_by_peer, connect, connect_packet, read_packet, wait_for


@pytest.fixture
def sensor(hub: Any) -> Any:
    info, token = hub.registry.create("Sensor 1", "sensor", "test")
    device = connect(hub.config["broker.port"], info.id, token, client_id=info.id)
    device.info, device.token = info, token
    yield device
    device.close()


def values(hub: Any) -> list[float]:
    with Session(hub.engine) as session:
        return list(session.scalars(select(Telemetry.value_num).order_by(Telemetry.id)))


def test_no_puback_until_the_journal_has_the_message(hub: Any, sensor: Any) -> None:
    """With the journal file locked by another process, the broker cannot write it: it must not acknowledge."""
    blocker = sqlite3.connect(hub.config.data_dir / "journal.db", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        info = sensor.client.publish(f"devices/{sensor.info.id}/datastream", json.dumps({"value": 1}), qos=1)
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            assert not info.is_published(), "acknowledged before it was on disk"
            info.wait_for_publish(0.05)
        assert hub.broker.stats().journal.waiting == 1
    finally:
        blocker.rollback()
        blocker.close()
    info.wait_for_publish(15)
    assert info.is_published()
    wait_for(lambda: values(hub) == [1.0])


def test_a_publish_to_a_dollar_topic_leaves_the_session_working(hub: Any, sensor: Any) -> None:
    """It ended the client's message loop: later messages were acknowledged and dropped, the next CONNECT with
    that id waited 5 s (issue 13 item 2, issue 14)."""
    sensor.publish("$SYS/x", b"1")
    sensor.publish(f"devices/{sensor.info.id}/datastream", json.dumps({"value": 2}))
    wait_for(lambda: values(hub) == [2.0])
    sensor.close()
    started = time.monotonic()
    again = connect(hub.config["broker.port"], sensor.info.id, sensor.token, client_id=sensor.info.id)
    try:
        assert time.monotonic() - started < 2.0
    finally:
        again.close()


def test_a_wildcard_in_a_publish_topic_closes_the_connection(hub: Any, sensor: Any) -> None:
    with socket.create_connection(("127.0.0.1", hub.config["broker.port"]), timeout=5) as raw:
        raw.sendall(connect_packet("raw-1", sensor.info.id, sensor.token))
        assert read_packet(raw)[0] == 2  # CONNACK
        topic = f"devices/{sensor.info.id}/+".encode()
        body = len(topic).to_bytes(2, "big") + topic + (1).to_bytes(2, "big") + b'{"value": 3}'
        raw.sendall(bytes([0x32, len(body)]) + body)  # QoS 1
        assert closed_by_peer(raw, 5)


def test_qos2_is_stored_once_and_completed(hub: Any, sensor: Any) -> None:
    info = sensor.client.publish(f"devices/{sensor.info.id}/datastream", json.dumps({"value": 4}), qos=2)
    info.wait_for_publish(5)
    assert info.is_published()  # PUBCOMP came back
    wait_for(lambda: values(hub) == [4.0])
    hub.writer.flush()
    assert values(hub) == [4.0]


def test_what_was_acknowledged_and_not_stored_is_stored_after_a_restart(config: Any, events: Any) -> None:
    """The hub dies between the journal and the database (here: stopped with its writer unable to commit)."""
    from kiosk.services.hub import Hub

    hub = Hub(config, events)
    hub.start()
    info, token = hub.registry.create("Sensor 2", "sensor", "test")
    device = connect(config["broker.port"], info.id, token, client_id=info.id)
    blocker = sqlite3.connect(config.data_dir / "kiosk.db", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # the database is locked: rows wait in the writer
    try:
        for n in range(20):
            device.publish(f"devices/{info.id}/datastream", json.dumps({"value": n}))  # each acknowledged
    finally:
        device.close()
        hub.writer._commit = lambda batch: False  # type: ignore[method-assign]  # as if killed before commit
        hub.stop()
        blocker.rollback()
        blocker.close()
    again = Hub(config, events)
    again.start()
    try:
        wait_for(lambda: values(again) == [float(n) for n in range(20)], timeout=15)
    finally:
        again.stop()


def test_a_locked_database_holds_up_only_the_writer(hub: Any) -> None:
    """A new port was made on the ingest thread: with the database locked, each first reading on a channel
    blocked ingest of every device for the 5 s busy timeout (issue 13 item 4)."""
    info, token = hub.registry.create("Meter 9", "energy", "test")
    meter = connect(hub.config["broker.port"], info.id, token, client_id=info.id)
    blocker = sqlite3.connect(hub.config.data_dir / "kiosk.db", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        for channel in ("a", "b", "c"):
            meter.publish(f"devices/{info.id}/datastream",
                          json.dumps({"port": channel, "voltage": 230, "current": 0.1, "power": 23}))
        wait_for(lambda: hub.ingest.accepted == 3, timeout=3)
        assert time.monotonic() - started < 2.0
        wait_for(lambda: not hub.health()[0], timeout=3)  # the writer's commit waits: health says so
    finally:
        blocker.rollback()
        blocker.close()
        meter.close()
    hub.writer.flush(10)
    assert {p.channel for p in hub.energy_store.ports(info.id)} == {"a", "b", "c"}
    wait_for(lambda: hub.health()[0])
