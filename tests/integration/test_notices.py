"""The notification centre's sources through the real hub: a device that goes silent, overdue lockers; each one row
while it lasts, ended when it is over, kept until acknowledged (by an admin, audited)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import load
from kiosk.core.operators import Operator, Role
from kiosk.services.hub import Hub
from kiosk.services.notices import DEVICE_OFFLINE, LOCKERS_OVERDUE, Notices
from kiosk.store.db import open_store
from kiosk.store.energy import EnergyStore
from tests.helpers import RecordingEvents, connect, free_port, wait_for


@pytest.fixture
def quick_hub(tmp_path: Path) -> Iterator[Hub]:
    config = load({"data_dir": str(tmp_path / "data"), "broker.port": free_port(), "http.port": 0,
                   "broker.bind": "127.0.0.1", "broker.process": "thread", "devices.offline_after_s": 1.5},
                  env={}, config_dir=tmp_path / "config")
    hub = Hub(config, RecordingEvents())
    hub.start()
    assert hub.link.connected.wait(5)
    yield hub
    hub.stop()


def open_notices(hub: Hub, kind: str) -> list[Any]:
    return [n for n in hub.energy_store.notifications() if n.kind == kind]


def test_a_silent_device_gets_one_notice_that_ends_when_it_is_back(quick_hub: Hub) -> None:
    info, token = quick_hub.registry.create("Stall W-2", "stall", "test")
    quick_hub.device_added(info)
    watcher = connect(quick_hub.config["broker.port"], "kiosk-internal", quick_hub.internal.password, "watcher")
    watcher.client.subscribe("kiosk/notifications", qos=1)
    assert watcher.suback.wait(3)
    device = connect(quick_hub.config["broker.port"], info.id, token)
    device.publish(f"devices/{info.id}/datastream", json.dumps({"occupied": False}))
    device.close()
    wait_for(lambda: open_notices(quick_hub, DEVICE_OFFLINE), timeout=10)
    [notice] = open_notices(quick_hub, DEVICE_OFFLINE)
    assert notice.title == "Stall W-2: no signal" and notice.subject == info.id and notice.ended_at is None
    wait_for(lambda: any(json.loads(m.payload)["kind"] == DEVICE_OFFLINE for m in watcher.messages))
    back = connect(quick_hub.config["broker.port"], info.id, token)
    back.publish(f"devices/{info.id}/datastream", json.dumps({"occupied": True}))
    wait_for(lambda: open_notices(quick_hub, DEVICE_OFFLINE)[0].ended_at is not None)
    back.close()
    # Silent again before anyone acknowledged: the same notice goes on (a flapping device is not 20 rows).
    wait_for(lambda: open_notices(quick_hub, DEVICE_OFFLINE)[0].ended_at is None, timeout=10)
    [again] = open_notices(quick_hub, DEVICE_OFFLINE)
    assert again.id == notice.id and again.title == "Stall W-2: no signal (2 times)"
    ids = [again.id]
    with pytest.raises(PermissionError):
        quick_hub.notices.acknowledge(Operator("sam", Role.STAFF), ids)
    quick_hub.notices.acknowledge(Operator("ada", Role.ADMIN), ids)
    assert open_notices(quick_hub, DEVICE_OFFLINE) == []
    third = connect(quick_hub.config["broker.port"], info.id, token)  # back, then silent after the acknowledgement:
    third.publish(f"devices/{info.id}/datastream", json.dumps({"occupied": False}))
    third.close()
    wait_for(lambda: open_notices(quick_hub, DEVICE_OFFLINE), timeout=10)  # a new notice
    assert open_notices(quick_hub, DEVICE_OFFLINE)[0].id != notice.id
    assert ("ada", "notification.ack") in [(a.actor, a.action) for a in quick_hub.registry.audit()]
    watcher.close()


def test_overdue_lockers_are_one_notice_retitled_as_the_count_moves_and_ended_at_zero(tmp_path: Path) -> None:
    store = EnergyStore(open_store(f"sqlite:///{tmp_path / 'k.db'}"))
    published: list[bytes] = []
    notices = Notices(store, lambda topic, payload, retain: published.append(payload))
    notices.load()
    notices.lockers_counted(0)
    assert store.notifications() == []
    notices.lockers_counted(2)
    notices.lockers_counted(2)
    notices.lockers_counted(5)
    [notice] = store.notifications()
    assert notice.kind == LOCKERS_OVERDUE and notice.title == "5 lockers overdue" and notice.ended_at is None
    assert len(published) == 1
    restarted = Notices(store, lambda *_: None)
    restarted.load()  # after a restart the same notice goes on
    restarted.lockers_counted(0)
    [notice] = store.notifications()
    assert notice.ended_at is not None and notice.title == "Overdue lockers: all released"


def snapshot(online: Any, name: str = "Stall W-2") -> Any:
    from kiosk.core.devices import DeviceSnapshot

    return DeviceSnapshot("dev-1", name, "stall", 1_000.0, 5, 0, None, None, None, None, None, None, online)


def test_a_device_listed_online_again_ends_its_notice_which_names_it(tmp_path: Path) -> None:
    """A device that comes back by a status message or a login (no reading yet) is Online in the device list; its
    no-signal notice must not say "going on" beside it."""
    from kiosk.core.devices import Online

    store = EnergyStore(open_store(f"sqlite:///{tmp_path / 'k.db'}"))
    notices = Notices(store, lambda *_: None)
    notices.load()
    notices.devices_changed([snapshot(Online.NO_SIGNAL)])
    [notice] = store.notifications()
    assert notice.ended_at is None and notice.detail.startswith("Stall W-2 (stall) stopped reporting")
    assert "dev-1" not in notice.detail and "dev-1" not in notice.title
    notices.devices_changed([snapshot(Online.ONLINE)])
    [notice] = store.notifications()
    assert notice.ended_at is not None
