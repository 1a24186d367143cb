"""A backup taken from a running hub, restored into an empty data folder, carries on: devices log in with their
tokens, firmware is signed with the same key, the admin PIN and the settings are the same."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from kiosk.client.pin_file import read_pin_hash, write_pin_hash
from kiosk.config import Config, save_runtime
from kiosk.core.operators import Operator, Role
from kiosk.core.pin import hash_pin, verify_pin
from kiosk.services.hub import Hub
from kiosk.store.backup import BackupError, backup, restore
from kiosk.store.site_key import verify
from tests.helpers import RecordingEvents, connect, wait_for

ADMIN = Operator("ada", Role.ADMIN)
IMAGE = b"\xe9firmware image for the stall sensor" * 100


def modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")}


def test_a_restored_hub_carries_on_with_its_devices_key_and_secrets(config: Config, tmp_path: Path) -> None:
    hub = Hub(config, RecordingEvents())
    hub.start()
    try:
        taken = back_up_a_busy_hub(hub, config, tmp_path)
    finally:
        hub.stop()
    start_from_the_restored_folder(*taken)


def back_up_a_busy_hub(hub: Hub, config: Config, tmp_path: Path) -> tuple[Any, str, Any, str, Config]:
    """Devices, a signed image, a PIN and a setting; a backup while the hub runs; a restore into an empty folder."""
    info, token = hub.registry.create("Stall W-2", "stall", "test")
    image = hub.firmware.upload(ADMIN, "esp32", "1.2.0", "stall-1.2.0.bin", IMAGE)
    write_pin_hash(config.data_dir, hash_pin("482913"))
    save_runtime(config.config_dir, {"energy.currency": "EUR"})
    public_key = hub.site_key.public_hex
    report = backup(hub.engine, config.data_dir, config.config_dir, tmp_path / "backups")  # while it runs
    assert set(report.secrets) == {"ota-signing-key.pem", "internal-broker-password", "admin-pin"}
    kept = modes(report.folder)
    assert stat.S_IMODE(report.folder.stat().st_mode) == 0o700
    assert all(mode == 0o600 for name, mode in kept.items() if (report.folder / name).is_file()), kept
    manifest = json.loads((report.folder / "MANIFEST.json").read_text())
    assert "secrets/ota-signing-key.pem" in manifest["files"] and f"firmware/{image.sha256}.bin" in manifest["files"]
    assert (report.folder / "secrets/ota-signing-key.pem").read_bytes() not in (report.folder / "MANIFEST.json"
                                                                                 ).read_bytes()

    restored = config.with_overrides(data_dir=str(tmp_path / "restored-data"))
    restored_config_dir = tmp_path / "restored-config"
    restore(report.folder, restored.data_dir, restored_config_dir)
    assert (restored_config_dir / "runtime.toml").read_text() == (config.config_dir / "runtime.toml").read_text()
    assert verify_pin("482913", read_pin_hash(restored.data_dir) or "")
    assert (restored.data_dir / "internal-broker-password").read_text() == \
        (config.data_dir / "internal-broker-password").read_text()
    return info, token, image, public_key, restored


def start_from_the_restored_folder(info: Any, token: str, image: Any, public_key: str, restored: Config) -> None:
    from tests.helpers import free_port

    again = Hub(restored.with_overrides(broker__port=free_port(), http__port=free_port()), RecordingEvents())
    assert again.config.data_dir == restored.data_dir
    again.start()
    try:
        assert again.site_key.public_hex == public_key  # devices accept what it signs
        [copy] = again.firmware.images()
        assert copy.sha256 == image.sha256 and again.firmware.path(copy.sha256).read_bytes() == IMAGE
        assert verify(public_key, hashlib.sha256(IMAGE).digest(), bytes.fromhex(copy.signature))
        device = connect(again.config["broker.port"], info.id, token)  # its token still works
        assert device.rc == 0
        device.publish(f"devices/{info.id}/datastream", json.dumps({"value": 1}))
        wait_for(lambda: again.ingest.accepted >= 1)
        device.close()
    finally:
        again.stop()


def test_a_restore_refuses_a_changed_backup_and_a_folder_that_has_a_database(hub: Any, config: Config,
                                                                            tmp_path: Path) -> None:
    report = backup(hub.engine, config.data_dir, config.config_dir, tmp_path / "b")
    with pytest.raises(BackupError, match="already has a database"):
        restore(report.folder, config.data_dir, config.config_dir)
    key = report.folder / "secrets" / "ota-signing-key.pem"
    key.write_bytes(key.read_bytes() + b"\n")
    with pytest.raises(BackupError, match="changed since the backup"):
        restore(report.folder, tmp_path / "empty", tmp_path / "cfg")
    assert not (tmp_path / "empty").exists()
    second = backup(hub.engine, config.data_dir, config.config_dir, tmp_path / "b")  # not empty: a dated folder
    assert second.folder.parent == tmp_path / "b" and second.folder.name.startswith("kiosk-backup-")


def test_scheduled_backups_keep_their_days_and_touch_nothing_else(tmp_path: Path) -> None:
    """What kiosk-backup.timer runs daily: `kiosk backup FOLDER --keep-days 14` into a folder of dated backups."""
    import os
    import subprocess
    import sys
    import time

    from kiosk.store.backup import MANIFEST, prune

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config")}
    shelf = tmp_path / "share" / "backups"
    shelf.mkdir(parents=True)
    (shelf / "notes.txt").write_text("the library's own file on the share")
    stranger = shelf / "kiosk-backup-20200101-000000"  # named like ours, but no manifest of ours: left alone
    stranger.mkdir()

    def run() -> str:
        done = subprocess.run([sys.executable, "-m", "kiosk", "backup", str(shelf), "--keep-days", "14"], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "removed 0 backups older than 14 days" in run()
    [first] = [p for p in shelf.glob("kiosk-backup-*") if (p / MANIFEST).exists()]
    manifest = json.loads((first / MANIFEST).read_text())
    manifest["made_at"] = time.time() - 20 * 86400  # as if made 20 days ago (its name too)
    (first / MANIFEST).write_text(json.dumps(manifest))
    first = first.rename(shelf / time.strftime("kiosk-backup-%Y%m%d-%H%M%S", time.localtime(manifest["made_at"])))
    assert prune(shelf, 14) == [], "the newest backup is never removed"
    said = run()
    assert f"removed 1 backup older than 14 days: {first.name}" in said
    assert not first.exists() and stranger.exists() and (shelf / "notes.txt").exists()
    assert len([p for p in shelf.glob("kiosk-backup-*") if (p / MANIFEST).exists()]) == 1


def test_the_first_scheduled_backup_on_a_new_machine_goes_into_a_dated_folder_too(tmp_path: Path) -> None:
    """Found by make boot-test: on a fresh install the timer's folder does not exist yet, and the first run wrote
    its backup into the folder itself (MANIFEST.json at its top), so the next night's went inside that backup."""
    import os
    import subprocess
    import sys

    from kiosk.store.backup import MANIFEST

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config")}
    shelf = tmp_path / "data" / "backups"
    done = subprocess.run([sys.executable, "-m", "kiosk", "backup", str(shelf), "--keep-days", "14"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (shelf / MANIFEST).exists(), "the backup was written into the folder of backups itself"
    [dated] = list(shelf.iterdir())
    assert dated.name.startswith("kiosk-backup-") and (dated / MANIFEST).exists()
    assert oct(shelf.stat().st_mode & 0o777) == "0o700"
