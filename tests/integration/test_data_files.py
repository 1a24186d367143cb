"""The data folder holds member names, the audit log, tokens' hashes and secrets: its owner's alone (issue 13)."""

import json
import stat
from pathlib import Path
from typing import Any

from kiosk.config import Config
from tests.helpers import RecordingEvents, connect, wait_for


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_its_files_are_private(config: Config, events: RecordingEvents) -> None:
    from kiosk.services.hub import Hub

    config.data_dir.mkdir(parents=True)
    config.data_dir.chmod(0o755)
    old = config.data_dir / "kiosk.db"
    old.touch(mode=0o644)  # as an earlier version left it
    old.chmod(0o644)
    hub = Hub(config, events)
    hub.start()
    try:
        info, token = hub.registry.create("Sensor", "sensor", "test")
        device = connect(config["broker.port"], info.id, token)
        device.publish(f"devices/{info.id}/datastream", json.dumps({"value": 1}))
        device.close()
        wait_for(lambda: hub.journal_reader.progress().stored_seq >= 1)
        files: list[Any] = sorted(p for p in config.data_dir.iterdir() if p.is_file())
        names = {p.name for p in files}
        assert {"kiosk.db", "kiosk.db-wal", "journal.db", "journal.db-wal"} <= names
        assert mode(config.data_dir) == 0o700
        assert {p.name: oct(mode(p)) for p in files if mode(p) & 0o077} == {}
    finally:
        hub.stop()
