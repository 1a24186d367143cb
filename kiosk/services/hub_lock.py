"""One hub per data folder: `hub.lock`, held with flock(2) for as long as the hub runs.

The lock is the kernel's: a hub killed with -9 (or a power cut) leaves the file behind but not the lock, so the next
start is never refused by a stale file. The file holds what a second start, `kiosk stop` and a screen need to find
the running hub: its process id and its ports, as JSON.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from kiosk.client.local_hub import HUB_LOCK_FILE, lock_info

LOCK_FILE = HUB_LOCK_FILE
WINDOW_LOCK_FILE = "window.lock"  # held by the desk window while it runs (a second start brings it forward)


class HubAlreadyRunning(RuntimeError):
    """Another hub holds this data folder; `info` is what it wrote (pid, ports, since)."""

    def __init__(self, data_dir: Path, info: dict[str, Any]) -> None:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(info["started_at"])) if "started_at" in info else "?"
        super().__init__(f"a hub already runs on {data_dir} (process {info.get('pid', '?')}, broker port "
                         f"{info.get('broker_port', '?')}, HTTP port {info.get('http_port', '?')}, since {since}); "
                         "use that one, or stop it with `kiosk stop`")
        self.info = info


class HubLock:
    def __init__(self, data_dir: Path, name: str = LOCK_FILE) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / name
        self._fd: int | None = None

    def acquire(self, info: dict[str, Any]) -> None:
        """Take the folder or raise HubAlreadyRunning; `info` is written for others to read."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read(fd)
            os.close(fd)
            raise HubAlreadyRunning(self.data_dir, other) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps({**info, "pid": os.getpid(), "started_at": time.time()}) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def running_hub(data_dir: Path, name: str = LOCK_FILE) -> dict[str, Any] | None:
    """What the hub (or, with WINDOW_LOCK_FILE, the desk window) running on this data folder wrote, or None when
    none runs (read the way every screen reads it: kiosk.client.local_hub)."""
    return lock_info(data_dir, name)


def _read(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
