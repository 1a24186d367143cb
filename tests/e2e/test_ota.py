"""Firmware updates end to end: the real hub (broker, HTTP server, database) and simulated ESP32s that download the
image over HTTP, check its SHA-256 and Ed25519 signature, flash, reboot and report. A tampered image and a wrong
signature are refused by the device; offline devices wait; the rollout keeps to its limit; history is kept."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import Config, load
from kiosk.core.operators import Operator, Role
from kiosk.core.ota import FirmwareError, JobState
from kiosk.services.esp32_sim import SimulatedEsp32
from kiosk.services.hub import Hub
from kiosk.store.site_key import SiteKey, verify
from tests.helpers import RecordingEvents, free_port, wait_for

ADMIN = Operator("ada", Role.ADMIN)
IMAGE = bytes([0xE9]) + os.urandom(50_000)  # an ESP32 application image starts with 0xE9


@pytest.fixture
def ota_hub(tmp_path: Path) -> Iterator[Hub]:
    config: Config = load({"data_dir": str(tmp_path / "data"), "broker.port": free_port(), "http.port": free_port(),
                           "broker.bind": "127.0.0.1", "http.bind": "127.0.0.1", "broker.process": "thread",
                           "ota.parallel": 1}, env={}, config_dir=tmp_path / "config")
    hub = Hub(config, RecordingEvents())
    hub.start()
    assert hub.link.connected.wait(5)
    yield hub
    hub.stop()


def esp32(hub: Hub, name: str, firmware: str = "1.0.0", key: str | None = None) -> SimulatedEsp32:
    info, token = hub.registry.create(name, "esp32", "test")
    hub.device_added(info)
    device = SimulatedEsp32("127.0.0.1", hub.config["broker.port"], info.id, token,
                            key or hub.site_key.public_hex, firmware)
    return device


def online(hub: Hub, device: SimulatedEsp32) -> SimulatedEsp32:
    device.start()
    assert device.connected.wait(5)
    wait_for(lambda: (s := hub.ingest.tracker.get(device.device_id)) is not None and s.firmware == device.firmware)
    return device


def job_state(hub: Hub, device_id: str) -> JobState:
    return next(job.state for job, _, _ in hub.firmware.recent_jobs() if job.device_id == device_id)


def test_the_site_key_is_made_once_and_kept(ota_hub: Hub) -> None:
    again = SiteKey.load_or_create(ota_hub.config.data_dir)
    assert again.public_hex == ota_hub.site_key.public_hex and len(again.public_hex) == 64
    assert (Path(ota_hub.config.data_dir) / "ota-signing-key.pem").stat().st_mode & 0o777 == 0o600


def test_upload_checks_signs_and_refuses_duplicates_and_non_images(ota_hub: Hub) -> None:
    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall-1.1.0.bin", IMAGE)
    import hashlib

    digest = hashlib.sha256(IMAGE).digest()
    assert image.sha256 == digest.hex() and image.size == len(IMAGE)
    assert verify(ota_hub.site_key.public_hex, digest, bytes.fromhex(image.signature))
    assert ota_hub.firmware.path(image.sha256).read_bytes() == IMAGE
    with pytest.raises(FirmwareError, match="already"):
        ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "again.bin", IMAGE)
    with pytest.raises(FirmwareError, match="0xE9"):
        ota_hub.firmware.upload(ADMIN, "esp32", "1.2.0", "firmware.elf", b"\x7fELF" + IMAGE)
    with pytest.raises(FirmwareError, match="version"):
        ota_hub.firmware.upload(ADMIN, "esp32", "latest", "x.bin", IMAGE)
    with pytest.raises(PermissionError):
        ota_hub.firmware.upload(Operator("sam", Role.STAFF), "esp32", "1.3.0", "x.bin", IMAGE)
    actions = [(a.actor, a.action, a.target) for a in ota_hub.registry.audit()]
    assert ("ada", "firmware.upload", "esp32 1.1.0") in actions


def test_a_device_downloads_verifies_updates_and_its_history_is_kept(ota_hub: Hub) -> None:
    device = online(ota_hub, esp32(ota_hub, "Hall sensor"))
    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall.bin", IMAGE)
    [job] = ota_hub.ota.start_update(ADMIN, image.id, [device.device_id])
    wait_for(lambda: job_state(ota_hub, device.device_id) is JobState.UPDATED, timeout=10)
    assert [r["state"] for r in device.reports] == ["downloading", "downloading", "verified", "updating", "updated"]
    assert device.firmware == "1.1.0"
    wait_for(lambda: ota_hub.ingest.tracker.get(device.device_id).firmware == "1.1.0")
    history = ota_hub.firmware.history(device.device_id)
    assert [(version, source) for _, version, source in history] == [("1.1.0", "ota"), ("1.0.0", "reported")]
    with pytest.raises(FirmwareError, match="No device needs"):
        ota_hub.ota.start_update(ADMIN, image.id, [device.device_id])  # already runs it
    actions = [(a.actor, a.action) for a in ota_hub.registry.audit()]
    assert ("ada", "firmware.rollout") in actions
    device.stop()


def test_a_tampered_image_is_refused_by_the_device(ota_hub: Hub) -> None:
    device = online(ota_hub, esp32(ota_hub, "Hall sensor"))
    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall.bin", IMAGE)
    path = ota_hub.firmware.path(image.sha256)
    path.write_bytes(IMAGE[:-1] + bytes([IMAGE[-1] ^ 0xFF]))  # one bit pattern changed on the kiosk's disk
    ota_hub.ota.start_update(ADMIN, image.id, [device.device_id])
    wait_for(lambda: job_state(ota_hub, device.device_id) is JobState.FAILED, timeout=10)
    assert device.firmware == "1.0.0"
    assert device.reports[-1]["detail"].startswith("SHA-256 mismatch")
    job = ota_hub.firmware.recent_jobs()[0][0]
    assert "SHA-256 mismatch" in job.detail
    device.stop()


def test_an_image_signed_with_another_key_is_refused_by_the_device(ota_hub: Hub, tmp_path: Path) -> None:
    other = SiteKey.load_or_create(tmp_path / "another-site")
    device = online(ota_hub, esp32(ota_hub, "Hall sensor", key=other.public_hex))  # built for another site
    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall.bin", IMAGE)
    ota_hub.ota.start_update(ADMIN, image.id, [device.device_id])
    wait_for(lambda: job_state(ota_hub, device.device_id) is JobState.FAILED, timeout=10)
    assert device.firmware == "1.0.0"
    assert "signature does not verify" in ota_hub.firmware.recent_jobs()[0][0].detail
    device.stop()


def test_all_out_of_date_devices_offline_ones_later_within_the_rollout_limit(ota_hub: Hub) -> None:
    current = online(ota_hub, esp32(ota_hub, "Up to date", firmware="1.1.0"))
    first = online(ota_hub, esp32(ota_hub, "Old A", firmware="1.0.0"))
    second = online(ota_hub, esp32(ota_hub, "Old B", firmware="0.9.4"))
    sleeping = esp32(ota_hub, "Asleep", firmware="1.0.0")  # registered, not connected yet
    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall.bin", IMAGE)
    assert {s.id for s in ota_hub.ota.out_of_date(image)} == {first.device_id, second.device_id,
                                                               sleeping.device_id}
    in_flight: list[int] = []
    jobs = ota_hub.ota.start_update(ADMIN, image.id)
    assert {job.device_id for job in jobs} == {first.device_id, second.device_id, sleeping.device_id}

    def both_done() -> bool:
        in_flight.append(ota_hub.ota.jobs_in_flight())
        return all(job_state(ota_hub, d.device_id) is JobState.UPDATED for d in (first, second))

    wait_for(both_done, timeout=15)
    assert max(in_flight) <= 1  # ota.parallel = 1
    assert job_state(ota_hub, sleeping.device_id) is JobState.PENDING
    assert "offline" in next(j.detail for j, _, _ in ota_hub.firmware.recent_jobs()
                             if j.device_id == sleeping.device_id)
    online(ota_hub, sleeping)  # it wakes up: ordered at once
    wait_for(lambda: job_state(ota_hub, sleeping.device_id) is JobState.UPDATED, timeout=10)
    assert current.reports == []
    for device in (current, first, second, sleeping):
        device.stop()


def test_staff_cannot_start_updates_and_deleting_an_image_in_use_is_refused(ota_hub: Hub) -> None:
    sleeping = esp32(ota_hub, "Asleep")
    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall.bin", IMAGE)
    with pytest.raises(PermissionError):
        ota_hub.ota.start_update(Operator("sam", Role.STAFF), image.id)
    ota_hub.ota.start_update(ADMIN, image.id, [sleeping.device_id])
    with pytest.raises(FirmwareError, match="being updated"):
        ota_hub.firmware.delete(ADMIN, image.id)
    other = ota_hub.firmware.upload(ADMIN, "esp32", "1.2.0", "stall.bin", IMAGE + b"x")
    with pytest.raises(PermissionError):
        ota_hub.firmware.delete(Operator("sam", Role.STAFF), other.id)
    ota_hub.firmware.delete(ADMIN, other.id)
    actions = [(a.actor, a.action, a.target) for a in ota_hub.registry.audit()]
    assert ("ada", "firmware.delete", "esp32 1.2.0") in actions
    assert ("ada", "firmware.rollout", "esp32 1.1.0") in actions
    assert not any(actor == "sam" for actor, _, _ in actions)
    assert not ota_hub.firmware.path(other.sha256).exists()
    assert ota_hub.firmware.path(image.sha256).exists()


def test_the_download_url_serves_only_known_images(ota_hub: Hub) -> None:
    import urllib.error
    import urllib.request

    image = ota_hub.firmware.upload(ADMIN, "esp32", "1.1.0", "stall.bin", IMAGE)
    base = ota_hub.download_base()
    assert base == f"http://127.0.0.1:{ota_hub.config['http.port']}"
    with urllib.request.urlopen(f"{base}/firmware/{image.sha256}.bin", timeout=5) as response:
        assert response.read() == IMAGE
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/firmware/{'0' * 64}.bin", timeout=5)
    assert refused.value.code == 404
    refused.value.close()
    with pytest.raises(urllib.error.HTTPError) as outside:
        urllib.request.urlopen(f"{base}/firmware/../kiosk.db", timeout=5)
    assert outside.value.code == 404
    outside.value.close()


