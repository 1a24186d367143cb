"""Starting the hub for a desk window (kiosk.client.local_hub.start_hub) with a real `kiosk --headless` process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kiosk.client.local_hub import HubNotStarted, lock_info, start_hub
from tests.helpers import free_port


def test_a_hub_the_window_cannot_use_is_not_left_running(tmp_path: Path) -> None:
    """A hub started with its HTTP server off (http.port = 0) has no API for the window. It was left running in its
    own session, holding the data folder, while the window said it could not be reached."""
    data = tmp_path / "data"
    command = [sys.executable, "-m", "kiosk", "--data-dir", str(data), "--config-dir", str(tmp_path / "config"),
               "--broker-port", str(free_port()), "--http-port", "0", "--headless"]
    with pytest.raises(HubNotStarted, match="HTTP server off"):
        start_hub(data, command, "127.0.0.1", lambda url: True, timeout_s=60)
    assert lock_info(data) is None, "the hub it started still holds the data folder"
