"""`kiosk --station --hub URL` as its own process against a headless hub in another: it attaches with its own
token, the hub sees its event stream, and without a token it says what it needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_smoke import HEADLESS, ROOT, Kiosk, health
from tests.helpers import wait_for


@pytest.mark.slow
@pytest.mark.parametrize("running", [HEADLESS], indirect=True, ids=["headless"])
def test_a_station_process_attaches_to_a_headless_hub(running: Kiosk, tmp_path: Path) -> None:
    added = running.cli("device", "add", "--name", "Desk 2", "--kind", "station")
    token = added.split("token:")[1].split()[0]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_STATION_TOKEN": token,
           "KIOSK_DATA_DIR": str(tmp_path / "station-data"), "KIOSK_CONFIG_DIR": str(tmp_path / "station-config")}
    station = subprocess.Popen([sys.executable, "main.py", "--station", "--hub",
                                f"http://127.0.0.1:{running.http_port}"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: (h := health(running.http_port)) and h["api"]["event_streams"] == 1, timeout=30)
        wait_for(lambda: health(running.http_port)["api"]["calls"] >= 2, timeout=10)  # the board and the tiles
        station.send_signal(signal.SIGTERM)
        output, _ = station.communicate(timeout=15)
        assert station.returncode == 0, output
        assert token not in output, "the token is never logged"
        assert "station following the hub at http://127.0.0.1" in output
        wait_for(lambda: health(running.http_port)["api"]["event_streams"] == 0, timeout=10)
    finally:
        if station.poll() is None:
            station.kill()
            station.communicate()
    code, _, output = running.stop()
    assert code == 0 and token not in output


def test_a_station_without_its_token_says_what_it_needs(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_DATA_DIR": str(tmp_path / "d"),
           "KIOSK_CONFIG_DIR": str(tmp_path / "c")}
    env.pop("KIOSK_STATION_TOKEN", None)
    result = subprocess.run([sys.executable, "main.py", "--station", "--hub", "http://127.0.0.1:9"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "kind station" in result.stderr and "KIOSK_STATION_TOKEN" in result.stderr
