"""The whole program in a subprocess: start, register a device with the CLI, publish, stop with SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import connect, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1) as answer:
            return json.loads(answer.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


class Kiosk:
    def __init__(self, tmp: Path, *flags: str, env: dict[str, str] | None = None) -> None:
        self.broker_port, self.http_port = free_port(), free_port()
        self.env = {**os.environ, "KIOSK_DATA_DIR": str(tmp / "data"), "KIOSK_CONFIG_DIR": str(tmp / "config"),
                    "KIOSK_BROKER_BIND": "127.0.0.1", "KIOSK_HTTP_BIND": "127.0.0.1", **(env or {})}
        self.common = ["--broker-port", str(self.broker_port), "--http-port", str(self.http_port)]
        self.process = subprocess.Popen([sys.executable, "main.py", *self.common, *flags], cwd=ROOT, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)

    def cli(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "kiosk", *self.common, *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def stop(self) -> tuple[int, float, str]:
        """SIGTERM to the whole process group, as systemd (KillMode=control-group) and Ctrl+C in a terminal do."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGTERM)
        output, _ = self.process.communicate(timeout=15)
        return self.process.returncode, time.monotonic() - started, output


@pytest.fixture
def running(request: Any, tmp_path: Path) -> Iterator[Kiosk]:
    flags, env = request.param
    kiosk = Kiosk(tmp_path, *flags, env=env)
    try:
        wait_for(lambda: (h := health(kiosk.http_port)) and h["status"] == "ok", timeout=30)
        yield kiosk
    finally:
        if kiosk.process.poll() is None:
            kiosk.process.kill()
        if kiosk.process.stdout is not None and not kiosk.process.stdout.closed:
            kiosk.process.communicate()  # also when it died on its own: its pipe is closed, not left to the GC
        stop_leftover_hub(kiosk)


def stop_leftover_hub(kiosk: Kiosk) -> None:
    """A hub a window started runs in a session of its own: a failed test must not leave it running."""
    from kiosk.client.local_hub import lock_info, stop_hub

    data_dir = Path(kiosk.env["KIOSK_DATA_DIR"])
    info = lock_info(data_dir)
    pid = info.get("pid") if info else None
    if isinstance(pid, int) and pid != kiosk.process.pid and not stop_hub(data_dir, pid, timeout_s=15):
        os.kill(pid, signal.SIGKILL)


HEADLESS = (("--headless",), {})
WINDOW_OFFSCREEN = ((), {"QT_QPA_PLATFORM": "offscreen"})
NO_SCREEN = ((), {"QT_QPA_PLATFORM": "", "DISPLAY": "", "WAYLAND_DISPLAY": ""})


@pytest.mark.slow
@pytest.mark.parametrize("running", [HEADLESS, WINDOW_OFFSCREEN], indirect=True, ids=["headless", "window"])
def test_start_register_publish_and_stop_with_sigterm(running: Kiosk) -> None:
    added = running.cli("device", "add", "--name", "Stall W-2", "--kind", "stall")
    device_id = added.split("device id:")[1].split()[0]
    token = added.split("token:")[1].split()[0]
    device = connect(running.broker_port, device_id, token)
    device.publish(f"devices/{device_id}/datastream", json.dumps({"occupied": True}))
    wait_for(lambda: health(running.http_port)["device_worker"]["accepted"] == 1, timeout=10)
    device.close()
    listing = running.cli("device", "list")
    assert "Stall W-2" in listing and token not in listing
    code, seconds, output = running.stop()
    assert code == 0, output
    assert seconds < 5
    assert token not in output  # tokens are never logged
    assert "ERROR" not in output, output  # e.g. the broker process must not "die" and restart during shutdown


@pytest.mark.slow
@pytest.mark.parametrize("running", [NO_SCREEN], indirect=True, ids=["no-screen"])
def test_without_a_screen_it_says_so_and_runs_headless(running: Kiosk) -> None:
    code, _seconds, output = running.stop()
    assert code == 0
    assert output.splitlines()[0] == ("kiosk: no display found (DISPLAY/WAYLAND_DISPLAY unset); running as the "
                                      "headless hub")


@pytest.mark.slow
@pytest.mark.parametrize("running", [HEADLESS], indirect=True, ids=["headless"])
def test_revoking_from_the_cli_drops_the_device_at_once(running: Kiosk) -> None:
    added = running.cli("device", "add", "--name", "Meter", "--kind", "energy")
    device_id = added.split("device id:")[1].split()[0]
    token = added.split("token:")[1].split()[0]
    device = connect(running.broker_port, device_id, token)
    assert "live connection was dropped" in running.cli("device", "revoke", device_id)
    assert device.disconnected.wait(2)
    device.close()
    code, _seconds, output = running.stop()
    assert code == 0, output


DEBUG = (("--headless", "--log-level", "DEBUG"), {})


@pytest.mark.slow
@pytest.mark.parametrize("running", [DEBUG], indirect=True, ids=["debug"])
def test_log_level_debug_prints_the_detail_of_each_refusal(running: Kiosk) -> None:
    """The broker runs in its own process: its DEBUG lines must reach the log too (and no secret in them)."""
    for n in range(3):
        guess = connect(running.broker_port, f"guess-{n}", "a-wrong-token-123")
        guess.close()
    wait_for(lambda: sum(health(running.http_port)["broker"]["refused_logins"].values()) == 3, timeout=10)
    import socket

    from tests.helpers import connect_packet

    waiting = []
    for n in range(12):  # past the free failures: the last ones wait for their answer while the hub stops
        sock = socket.create_connection(("127.0.0.1", running.broker_port), timeout=5)
        sock.sendall(connect_packet(f"more-{n}", "guess-0", "a-wrong-token-123"))
        waiting.append(sock)
    wait_for(lambda: sum(health(running.http_port)["broker"]["refused_logins"].values()) == 15, timeout=10)
    code, _seconds, output = running.stop()
    for sock in waiting:
        sock.close()
    assert code == 0, output
    assert "ERROR" not in output and "Traceback" not in output, output  # a waiting login ends quietly
    debug = [line for line in output.splitlines() if " DEBUG " in line and "refused MQTT login" in line]
    assert len(debug) == 15 and "guess-2" in debug[2]
    assert sum(" WARNING " in line and "refused MQTT login" in line for line in output.splitlines()) == 1
    assert "a-wrong-token-123" not in output


def test_help_lists_roles_and_commands(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kiosk", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=30)
    for word in ("--display", "--headless", "--hub", "device", "simulate", "config", "backup"):
        assert word in result.stdout


def test_a_broken_settings_file_stops_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text("[broker]\nport = = 3\n")
    result = subprocess.run([sys.executable, "main.py", "--config-dir", str(tmp_path), "--headless"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "line 2" in result.stderr


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config")}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_config_show_names_every_source(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "kiosk.toml").write_text("[broker]\nport = 1999\n")
    shown = run_cli(tmp_path, "--http-port", "8181", "config", "show").stdout
    lines = {line.split("=")[0].strip(): line for line in shown.splitlines() if "=" in line}  # aligned columns
    assert "= 1999" in lines["broker.port"] and f"file {tmp_path / 'config' / 'kiosk.toml'}" in lines["broker.port"]
    assert "= 8181" in lines["http.port"] and "command line" in lines["http.port"]
    assert f"= '{tmp_path / 'data'}'" in lines["data_dir"] and "env KIOSK_DATA_DIR" in lines["data_dir"]


def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    added = run_cli(tmp_path, "device", "add", "--name", "Meter", "--kind", "energy", "--expires", "30").stdout
    device_id = added.split("device id:")[1].split()[0]
    from kiosk.services.broker.gatekeeper import internal_credentials
    from kiosk.store.site_key import SiteKey

    SiteKey.load_or_create(tmp_path / "data")  # as a hub's first start makes them
    internal_credentials(tmp_path / "data")
    target = tmp_path / "backups"
    made = run_cli(tmp_path, "backup", str(target))
    assert made.returncode == 0 and "internal-broker-password" in made.stdout, made.stderr
    again = run_cli(tmp_path, "backup", str(target))  # the folder holds a backup now: a new dated one inside
    assert again.returncode == 0 and "kiosk-backup-" in again.stdout
    elsewhere = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "restored"), "KIOSK_CONFIG_DIR": str(tmp_path / "c2")}

    def restored(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, env=elsewhere)

    assert restored("restore", str(target)).returncode == 0
    assert device_id in restored("device", "list").stdout
    assert (tmp_path / "restored" / "ota-signing-key.pem").read_bytes() == \
        (tmp_path / "data" / "ota-signing-key.pem").read_bytes()
    refused = restored("restore", str(target))
    assert refused.returncode == 1 and "already has a database" in refused.stderr


def test_unknown_device_ids_get_a_clear_message(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "device", "revoke", "no-such-device")
    assert result.returncode == 1
    assert "no device with id no-such-device" in result.stderr


def test_lockers_from_the_command_line_roster_preview_import_status_export(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("enrollment,name,programme\nCS2021001,Rahul Sharma,CS\ncs2021002,Priya Patel,CS\n"
                      "CS20X,Bad,CS\n", encoding="utf-8")
    preview = run_cli(tmp_path, "lockers", "import-roster", str(roster))
    assert preview.returncode == 0
    assert "2 new members, 0 already on the roster, 1 rows refused" in preview.stdout
    assert "line 4: 'CS20X' is not an enrollment number" in preview.stdout and "nothing imported yet" in preview.stdout
    assert "added 2 members" in run_cli(tmp_path, "lockers", "import-roster", str(roster), "--yes").stdout
    status = run_cli(tmp_path, "lockers", "status").stdout
    assert status.startswith("150 free, 0 in use (0 overdue), 0 out of order; 2 members")
    out = tmp_path / "history.csv"
    exported = run_cli(tmp_path, "lockers", "export-history", str(out), "--since", "2026-01-01")
    assert exported.returncode == 0 and "wrote 0 assignments" in exported.stdout
    assert out.read_text(encoding="utf-8").startswith("locker,enrollment,name")
    assert run_cli(tmp_path, "lockers", "export-history", str(out), "--since", "yesterday").returncode == 2


def test_ports_and_serial_boards_from_the_command_line(tmp_path: Path) -> None:
    added = run_cli(tmp_path, "device", "add", "--name", "Meter", "--kind", "energy").stdout
    device_id = added.split("device id:")[1].split()[0]
    made = run_cli(tmp_path, "port", "add", device_id, "--name", "Desk lamp", "--schedule", "mon-fri 08:00-21:00")
    assert made.returncode == 0 and made.stdout.startswith("port id: ")
    port_id = made.stdout.split()[2]
    listing = run_cli(tmp_path, "port", "list").stdout
    assert port_id in listing and "Desk lamp" in listing and "mon-fri 08:00-21:00" in listing
    again = run_cli(tmp_path, "port", "add", device_id, "--name", "Desk lamp")
    assert again.returncode == 1 and "already has a port called" in again.stderr
    assert run_cli(tmp_path, "port", "add", "nope", "--name", "X").returncode == 1
    edited = run_cli(tmp_path, "port", "edit", port_id, "--active-w", "25", "--phantom-after-min", "10")
    assert edited.returncode == 0 and "active >= 25 W" in edited.stdout and "phantom after 10 min" in edited.stdout
    assert run_cli(tmp_path, "port", "edit", port_id, "--schedule", "daily").returncode == 1
    calibrate = run_cli(tmp_path, "port", "calibrate", port_id)
    assert calibrate.returncode == 1 and "at least 10 readings" in calibrate.stderr
    assert "no USB boards seen yet" in run_cli(tmp_path, "serial", "list").stdout
    unknown = run_cli(tmp_path, "serial", "map", "A1B2", device_id)
    assert unknown.returncode == 1 and "no USB board 'A1B2'" in unknown.stderr


def test_operators_from_the_command_line_and_passwords_never_in_the_output(tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config"),
           "KIOSK_LOG_LEVEL": "DEBUG"}

    def cli(*args: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kiosk", *args, "--stdin"], cwd=ROOT, env=env,
                              input=password + "\n", capture_output=True, text=True, timeout=60)

    assert "no operators yet" in run_cli(tmp_path, "operator", "list").stdout
    first = cli("operator", "add", "desk", password="front desk 2026")
    assert first.returncode == 1 and "first operator must be an admin" in first.stderr
    results = [cli("operator", "add", "Asha", "--admin", password="correct horse 42"),
               cli("operator", "add", "desk 1", password="front desk 2026"),
               cli("operator", "passwd", "desk 1", password="another pass 77")]
    assert [r.returncode for r in results] == [0, 0, 0]
    weak = cli("operator", "add", "desk 2", password="short")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    listing = run_cli(tmp_path, "operator", "list").stdout
    assert "Asha" in listing and "admin" in listing and "desk 1" in listing and "staff" in listing
    everything = "".join(r.stdout + r.stderr for r in [first, weak, *results]) + listing
    for secret in ("correct horse 42", "front desk 2026", "another pass 77", "short"):
        assert secret not in everything
    logs = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "data").rglob("*.log"))
    assert "correct horse 42" not in logs


def test_firmware_from_the_command_line(tmp_path: Path) -> None:
    key = run_cli(tmp_path, "firmware", "public-key")
    assert key.returncode == 0 and len(key.stdout.strip()) == 64
    assert run_cli(tmp_path, "firmware", "public-key").stdout == key.stdout  # made once, then kept
    image = tmp_path / "stall.bin"
    image.write_bytes(bytes([0xE9]) + bytes(4000))
    stored = run_cli(tmp_path, "firmware", "upload", str(image), "--version", "1.2.0")
    assert stored.returncode == 0 and "sha256" in stored.stdout, stored.stderr
    again = run_cli(tmp_path, "firmware", "upload", str(image), "--version", "1.2.0")
    assert again.returncode == 1 and "already" in again.stderr
    missing = run_cli(tmp_path, "firmware", "upload", str(tmp_path / "nope.bin"), "--version", "1.3.0")
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    listing = run_cli(tmp_path, "firmware", "list").stdout
    assert "esp32" in listing and "1.2.0" in listing and "4,001 B" in listing


def test_a_token_expiry_in_the_past_is_refused_and_an_expired_token_is_shown_expired(tmp_path: Path) -> None:
    refused = run_cli(tmp_path, "device", "add", "--name", "Old", "--kind", "sensor", "--expires", "2020-01-01")
    assert refused.returncode != 0 and "in the past" in refused.stderr
    assert "no devices yet" in run_cli(tmp_path, "device", "list").stdout  # nothing was made
    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry

    registry = DeviceRegistry(open_store(f"sqlite:///{tmp_path / 'data' / 'kiosk.db'}"))
    registry.create("Lapsed", "sensor", "test", expires_at=time.time() - 3600)
    registry.create("Fresh", "sensor", "test", expires_at=time.time() + 86400 * 30)
    listed = {line.split()[1]: line for line in run_cli(tmp_path, "device", "list").stdout.splitlines()[1:] if line}
    assert "EXPIRED" in listed["Lapsed"] and "expires" in listed["Fresh"] and "EXPIRED" not in listed["Fresh"]


@pytest.mark.slow
@pytest.mark.parametrize("running", [HEADLESS], indirect=True, ids=["headless"])
def test_one_hub_per_data_folder_and_kiosk_stop_stops_it(running: Kiosk, tmp_path: Path) -> None:
    second = subprocess.run([sys.executable, "main.py", "--headless", "--broker-port", str(free_port()),
                             "--http-port", str(free_port())], cwd=ROOT, env=running.env, capture_output=True,
                            text=True, timeout=60)
    assert second.returncode == 3 and "a hub already runs on" in second.stderr, second.stderr
    assert str(running.process.pid) in second.stderr and str(running.broker_port) in second.stderr
    assert health(running.http_port)["status"] == "ok"  # the running one is untouched
    stopped = running.cli("stop")
    assert "stopped" in stopped
    running.process.communicate(timeout=5)
    assert running.process.returncode == 0
    assert "no hub is running" in running.cli("stop")


def test_a_hub_killed_with_9_leaves_no_lock_behind(tmp_path: Path) -> None:
    kiosk = Kiosk(tmp_path, "--headless")
    try:
        wait_for(lambda: (h := health(kiosk.http_port)) and h["status"] == "ok", timeout=30)
        os.killpg(kiosk.process.pid, signal.SIGKILL)
        kiosk.process.communicate()
    finally:
        if kiosk.process.poll() is None:
            kiosk.process.kill()
    again = Kiosk(tmp_path, "--headless")  # the lock file is still there; the lock is not
    try:
        wait_for(lambda: (h := health(again.http_port)) and h["status"] == "ok", timeout=30)
        code, _seconds, output = again.stop()
        assert code == 0, output
    finally:
        if again.process.poll() is None:
            again.process.kill()
            again.process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("running", [WINDOW_OFFSCREEN], indirect=True, ids=["window"])
def test_starting_the_kiosk_again_brings_its_window_forward_and_kiosk_stop_stops_the_hub(running: Kiosk) -> None:
    again = subprocess.run([sys.executable, "main.py", "--broker-port", str(free_port()), "--http-port",
                            str(free_port())], cwd=ROOT, env=running.env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "it was brought forward" in again.stdout, again.stdout + again.stderr
    assert "stopped" in running.cli("stop")  # the hub (its own process); the window stays and says so
    assert health(running.http_port) is None
    code, _seconds, output = running.stop()
    assert code == 0, output
    assert "its window comes forward" in output and "ERROR" not in output
