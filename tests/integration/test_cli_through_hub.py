"""The CLI's admin commands go through the running hub's API (as this machine's admin, `cli:USER`): the change is
the hub's at once and every station hears it; with no hub they work on the data folder itself."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.client.energy import RemoteEnergy
from kiosk.client.events import EventStream
from kiosk.client.http import ApiClient
from kiosk.client.local_hub import CLI_TOKEN_FILE
from kiosk.services.api.access import local_station_token
from kiosk.services.hub import Hub
from tests.helpers import connect, wait_for

THROUGH = "(through the running hub)"


@pytest.fixture
def station(hub: Hub) -> Iterator[ApiClient]:
    token = local_station_token(hub.config.data_dir, create=False)
    assert token
    client = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}", token)
    yield client
    client.close()


def kiosk(data_dir: Path, tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "cli-config")}
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60)


def audit(hub: Hub) -> list[tuple[str, str]]:
    return [(entry.actor, entry.action) for entry in hub.registry.audit()]


def test_a_device_added_by_the_cli_reaches_an_open_station_within_200_ms(hub: Hub, station: ApiClient,
                                                                         tmp_path: Path) -> None:
    heard: list[tuple[float, dict[str, Any]]] = []
    stream = EventStream(station.websocket_target, lambda e: heard.append((time.perf_counter(), e)),
                         lambda up, why: None)
    stream.start()
    try:
        assert stream.connected.wait(5)
        result = kiosk(hub.config.data_dir, tmp_path, "device", "add", "--name", "Stall E-1", "--kind", "stall")
        finished = time.perf_counter()
        assert result.returncode == 0, result.stderr
        assert THROUGH in result.stdout
        device_id = result.stdout.split("device id:")[1].split()[0]

        def arrived() -> float | None:
            return next((t for t, e in heard if e["topic"] == "devices"
                         and any(d["id"] == device_id for d in e["data"]["changed"])), None)

        wait_for(lambda: arrived() is not None)
    finally:
        stream.stop()
    assert arrived() - finished < 0.2  # type: ignore[operator]
    assert any(who.startswith("cli") and what.startswith("device.") for who, what in audit(hub)), audit(hub)
    listed = kiosk(hub.config.data_dir, tmp_path, "device", "list")
    assert listed.returncode == 0 and device_id in listed.stdout and "Stall E-1" in listed.stdout


def test_a_device_revoked_by_the_cli_loses_its_live_connection_at_once(hub: Hub, tmp_path: Path) -> None:
    info, token = hub.registry.create("Stall E-2", "stall", "test")
    hub.device_added(info)
    device = connect(hub.config.broker.port, info.id, token)
    assert device.rc == 0
    try:
        result = kiosk(hub.config.data_dir, tmp_path, "device", "revoke", info.id)
        assert result.returncode == 0, result.stderr
        assert "its live connection was dropped" in result.stdout
        assert device.disconnected.wait(3), "the hub dropped the revoked device within its 5 s sweep only"
    finally:
        device.close()
    missing = kiosk(hub.config.data_dir, tmp_path, "device", "revoke", "no-such-device")
    assert missing.returncode == 1 and "no-such-device" in missing.stderr and "Traceback" not in missing.stderr


def test_a_port_added_by_the_cli_is_on_every_energy_tab_at_once(hub: Hub, station: ApiClient,
                                                                 tmp_path: Path) -> None:
    info, _token = hub.registry.create("Meter E", "energy", "test")
    hub.energy_store.add_port(info.id, "Lamp", "test")
    energy = RemoteEnergy(station)
    assert [row["name"] for row in energy.port_rows()] == ["Lamp"]  # read, and kept for 10 s
    result = kiosk(hub.config.data_dir, tmp_path, "port", "add", info.id, "--name", "Kettle", "--active-w", "25")
    assert result.returncode == 0, result.stderr
    assert THROUGH in result.stdout
    port_id = result.stdout.split("port id:")[1].split()[0]
    assert sorted(row["name"] for row in energy.port_rows()) == ["Kettle", "Lamp"]
    edited = kiosk(hub.config.data_dir, tmp_path, "port", "edit", port_id, "--active-w", "40")
    assert edited.returncode == 0 and "active >= 40 W" in edited.stdout
    listed = kiosk(hub.config.data_dir, tmp_path, "port", "list", info.id)
    assert port_id in listed.stdout and "active >= 40 W" in listed.stdout
    refused = kiosk(hub.config.data_dir, tmp_path, "port", "calibrate", port_id)
    assert refused.returncode == 1 and "kiosk:" in refused.stderr and "Traceback" not in refused.stderr


def test_operators_firmware_and_boards_through_the_hub(hub: Hub, tmp_path: Path) -> None:
    data = hub.config.data_dir
    staff_first = kiosk(data, tmp_path, "operator", "add", "sam", "--stdin", stdin="front desk rota 7\n")
    assert staff_first.returncode == 1 and "The first operator must be an admin" in staff_first.stderr
    added = kiosk(data, tmp_path, "operator", "add", "root", "--admin", "--stdin", stdin="correct horse 9\n")
    assert added.returncode == 0 and THROUGH in added.stdout, added.stderr
    assert "root" in kiosk(data, tmp_path, "operator", "list").stdout

    image = tmp_path / "app.bin"
    image.write_bytes(bytes([0xE9]) + bytes(range(256)) * 40)
    uploaded = kiosk(data, tmp_path, "firmware", "upload", str(image), "--version", "2.0.1")
    assert uploaded.returncode == 0 and THROUGH in uploaded.stdout, uploaded.stderr
    assert [i.version for i in hub.firmware.images()] == ["2.0.1"]
    assert kiosk(data, tmp_path, "firmware", "public-key").stdout.strip() == hub.site_key.public_hex

    unknown = kiosk(data, tmp_path, "serial", "map", "board-x", "some-device")
    assert unknown.returncode == 1 and "board-x" in unknown.stderr
    assert any(who.startswith("cli") and what == "operator.add" for who, what in audit(hub))


def test_the_cli_token_is_the_owners_only_and_names_its_user(hub: Hub) -> None:
    import http.client

    path = hub.config.data_dir / "secrets" / CLI_TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text(encoding="ascii").strip()
    connection = http.client.HTTPConnection("127.0.0.1", hub.config.http.port, timeout=10)
    try:
        connection.request("GET", "/api/v1/operators", headers={"Authorization": f"Bearer {token}"})
        answer = connection.getresponse()
        assert answer.status == 401 and b"cli:USER" in answer.read()
        connection.request("GET", "/api/v1/operators", headers={"Authorization": f"Bearer {token}",
                                                                "X-Kiosk-Actor": "cli:alex"})
        answer = connection.getresponse()
        assert answer.status == 200, answer.read()
        answer.read()
    finally:
        connection.close()


def test_with_no_hub_running_the_cli_works_on_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = kiosk(data, tmp_path, "device", "add", "--name", "Meter Z", "--kind", "energy")
    assert added.returncode == 0 and THROUGH not in added.stdout, added.stderr
    device_id = added.stdout.split("device id:")[1].split()[0]
    port = kiosk(data, tmp_path, "port", "add", device_id, "--name", "Lamp")
    assert port.returncode == 0, port.stderr
    assert "Lamp" in kiosk(data, tmp_path, "port", "list").stdout
    revoked = kiosk(data, tmp_path, "device", "revoke", device_id)
    assert revoked.returncode == 0 and "the hub is not running here" in revoked.stdout
