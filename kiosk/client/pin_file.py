"""Where the admin PIN's hash lives: a file only its owner can read, in the data folder of each machine.

A wall display on another machine has its own data folder, so its PIN is set there (`kiosk admin set-pin`).
"""

from __future__ import annotations

import os
from pathlib import Path

PIN_FILE = "admin-pin"


def read_pin_hash(data_dir: Path) -> str | None:
    try:
        text = (Path(data_dir) / PIN_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def write_pin_hash(data_dir: Path, pin_hash: str) -> None:
    path = Path(data_dir) / PIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(pin_hash + "\n")
    os.replace(temporary, path)
