"""Starts that cannot work say why in one line and exit non-zero, never with a traceback (issue 18, "Bad input")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_a_broker_port_another_program_holds_is_named_in_one_line(tmp_path: Path) -> None:
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config"),
           "KIOSK_BROKER_BIND": "127.0.0.1", "KIOSK_HTTP_BIND": "127.0.0.1"}
    try:
        done = subprocess.run([sys.executable, "main.py", "--headless", "--broker-port", str(port), "--http-port",
                               str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        squatter.close()
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if "could not start" in line]
    assert f"broker port {port} is taken by " in line and f"(pid {os.getpid()})" in line and "--broker-port" in line
    assert "embedded broker stopped" not in output, "it never started"


def test_the_wall_display_without_a_screen_says_so_in_one_line(tmp_path: Path) -> None:
    """As kiosk-display@.service would, on a machine where the compositor did not come up."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(KIOSK_DATA_DIR=str(tmp_path / "data"), KIOSK_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "main.py", "--display"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    output = (done.stdout + done.stderr).strip()
    assert output == "kiosk: the wall display needs a screen (DISPLAY/WAYLAND_DISPLAY unset)", output
