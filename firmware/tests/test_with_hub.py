"""The firmware's own code against the real hub (issue 17): the Linux builds of the energy board and the stall
sensor (firmware/host), which run the same logic as the Uno and ESP32 sketches, talk to a hub with its embedded
broker, HTTP server and database on loopback: USB serial through a pseudo-terminal, MQTT with the device's real id
and token, commands, and a firmware update signed by the hub's site key, streamed, checked and installed.

Run by `make firmware-test` (it builds the host programs first); not part of `make test`, which needs no compiler.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config import Config, load
from kiosk.core.commands import CommandState
from kiosk.core.devices import provisioning_text
from kiosk.core.operators import Operator, Role
from kiosk.core.ota import JobState
from kiosk.services.hub import Hub
from kiosk.store.models import StallReading
from tests.helpers import RecordingEvents, free_port, wait_for

FIRMWARE = Path(__file__).resolve().parents[1]
BUILD = FIRMWARE / "build" / "host"
ADMIN = Operator("ada", Role.ADMIN)


@pytest.fixture(scope="module")
def programs() -> Path:
    built = subprocess.run(["make", "-C", str(FIRMWARE), "host"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return BUILD


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    config: Config = load({"data_dir": str(tmp_path / "data"), "broker.port": free_port(), "http.port": free_port(),
                           "broker.bind": "127.0.0.1", "http.bind": "127.0.0.1", "broker.process": "thread",
                           "serial.usb_ids": "", "ota.parallel": 1}, env={}, config_dir=tmp_path / "config")
    hub = Hub(config, RecordingEvents())
    hub.start()
    assert hub.link.connected.wait(5)
    if hub.serial is not None:
        hub.serial._scan_every_s = 0.2
    yield hub
    hub.stop()


class Program:
    """A host build running as its own process, its output lines kept to wait on."""

    def __init__(self, command: list[str], quits: bool = True, env: dict[str, str] | None = None) -> None:
        self.quits = quits  # it reads "quit" on its standard input (the stall sensor); else it is terminated
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1,
                                        env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str, since: int = 0) -> bool:
        """Whether a line holding `text` came (after the first `since` lines)."""
        return any(text in line for line in self.lines[since:])

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                if not self.quits:
                    raise BrokenPipeError
                self.tell("quit")
                self.process.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.terminate()
                self.process.wait(5)
        self._reader.join(5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass


def stall_sensor(hub: Hub, programs: Path, state: Path, trial_s: int | None = None) -> tuple[str, Program]:
    info, token = hub.registry.create("Door W-1", "esp32", "test")
    hub.device_added(info)
    state.mkdir(parents=True, exist_ok=True)
    qr = provisioning_text(info.id, token, "127.0.0.1", hub.config.broker.port)  # the Admin tab's QR text
    wifi = json.dumps({"ssid": "library-test", "password": "not used on Linux", "http_port": hub.config.http.port,
                       "site_key": hub.site_key.public_hex, "interval_s": 2})
    program = Program([str(programs / "stall-sensor-host"), "--state", str(state), "--provision", qr,
                       "--provision", wifi], env={"KIOSK_HOST_TRIAL_S": str(trial_s)} if trial_s else None)
    return info.id, program


def stall_rows(hub: Hub, device_id: str) -> list[tuple[str | None, bool | None, str | None]]:
    hub.writer.flush()
    with Session(hub.engine) as session:
        return [(r.door, r.thermal, r.seq) for r in session.scalars(
            select(StallReading).where(StallReading.device_id == device_id).order_by(StallReading.id))]


def host_image(version: str, size: int = 60_000) -> bytes:
    head = bytes([0xE9]) + f"KIOSK-HOST-IMAGE {version}\n".encode()
    return head + os.urandom(size - len(head))


def test_the_energy_board_s_lines_reach_the_hub_through_a_pseudo_terminal(hub: Hub, programs: Path) -> None:
    links = Path(hub.config.data_dir) / "serial"
    links.mkdir(exist_ok=True)
    board = Program([str(programs / "energy-board-host"), "--link", str(links / "energy-e2e"), "--board", "E3A1F0",
                     "--amps", "0.435,0.02", "--volts", "230"], quits=False)
    try:
        device_id = "serial:E3A1F0"

        def powers() -> dict[str, list[float]]:
            hub.writer.flush()
            return {port.channel: [p for _, p in hub.energy_store.readings(port.id, 0, 4e9)]
                    for port in hub.energy_store.ports(device_id)}

        wait_for(lambda: len(powers()) == 2 and all(len(v) >= 5 for v in powers().values()), timeout=20)
        by_channel = powers()
        assert sorted(by_channel) == ["1", "2"]
        assert all(abs(p - 230 * 0.435) < 0.02 * 230 * 0.435 for p in by_channel["1"])  # 100 W within 2 %
        assert all(abs(p - 230 * 0.02) < 3.0 for p in by_channel["2"])  # 4.6 W and the ADC noise (0.02 A)
        [stats] = hub.serial.stats()  # type: ignore[union-attr]
        assert stats.board == "E3A1F0" and stats.rejected == {} and stats.lost == 0
        assert [(b[0], b[3]) for b in hub.registry.serial_boards()] == [("E3A1F0", "1.0.0")]
    finally:
        board.stop()


def test_the_stall_sensor_logs_in_reports_and_the_hub_stores_its_readings(hub: Hub, programs: Path,
                                                                          tmp_path: Path) -> None:
    device_id, sensor = stall_sensor(hub, programs, tmp_path / "sensor")
    try:
        wait_for(lambda: sensor.said("connected"), timeout=10)
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.0.0", timeout=10)
        snap = hub.ingest.tracker.get(device_id)
        assert snap is not None and snap.online.value == "online"
        sensor.tell("door closed")
        sensor.tell("warm 5")
        wait_for(lambda: ("closed", True) in [(d, t) for d, t, _ in stall_rows(hub, device_id)], timeout=10)
        rows = stall_rows(hub, device_id)
        assert all(seq and seq.startswith("b1-") for _, _, seq in rows), rows  # each reading has its id
        assert hub.registry.rejection_reasons(device_id) == []
    finally:
        sensor.stop()


def test_a_restart_command_is_acknowledged_and_done_when_the_sensor_comes_back(hub: Hub, programs: Path,
                                                                                tmp_path: Path) -> None:
    device_id, sensor = stall_sensor(hub, programs, tmp_path / "sensor")
    try:
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.0.0", timeout=10)
        # The hub judges a restart by a smaller uptime than the one it reckons at sending (the last report plus the
        # time since): send once that reckoning is past a second, as it is for any board that has run a while.
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.uptime_at is not None
                 and hub.clock() - s.uptime_at >= 1.2, timeout=10)
        [command] = hub.commands.send(ADMIN, [device_id], "restart", {"delay_s": 1})

        def state() -> CommandState:
            return next(c.state for c, _ in hub.commands.recent() if c.id == command.id)

        wait_for(lambda: state() is CommandState.DONE, timeout=20)
        assert sensor.said("restarting") and sensor.said("running 1.0.0 (boot 2)")
        detail = next(c for c, _ in hub.commands.recent() if c.id == command.id).history
        assert any("restarting in 1 s" in entry[2] for entry in detail), detail
    finally:
        sensor.stop()


def test_a_signed_update_is_installed_and_a_tampered_one_refused(hub: Hub, programs: Path, tmp_path: Path) -> None:
    device_id, sensor = stall_sensor(hub, programs, tmp_path / "sensor")
    try:
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.0.0", timeout=10)
        bad = hub.firmware.upload(ADMIN, "esp32", "1.0.5", "bad.bin", host_image("1.0.5"))
        stored = hub.firmware.path(bad.sha256)
        tampered = bytearray(stored.read_bytes())
        tampered[5000] ^= 0x01  # one bit changed on the hub's disk after it was signed
        stored.write_bytes(bytes(tampered))
        hub.ota.start_update(ADMIN, bad.id, [device_id])

        def job(version: str) -> tuple[JobState, str]:
            return next((j.state, j.detail) for j, _, _ in hub.firmware.recent_jobs()
                        if j.device_id == device_id and j.version == version)

        wait_for(lambda: job("1.0.5")[0] is JobState.FAILED, timeout=20)
        assert "SHA-256 mismatch" in job("1.0.5")[1]
        assert not sensor.said("restarting")

        good = hub.firmware.upload(ADMIN, "esp32", "1.1.0", "good.bin", host_image("1.1.0"))
        hub.ota.start_update(ADMIN, good.id, [device_id])
        wait_for(lambda: job("1.1.0")[0] is JobState.UPDATED, timeout=30)
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.1.0", timeout=10)
        assert sensor.said("running 1.1.0") and sensor.said("image confirmed")
        history = [version for _, version, _ in hub.firmware.history(device_id)]
        assert history[0] == "1.1.0" and "1.0.0" in history
    finally:
        sensor.stop()


def test_what_kiosk_firmware_upload_signs_verifies_in_the_firmware_and_a_flipped_byte_does_not(
        programs: Path, tmp_path: Path) -> None:
    """The command an admin runs, in its own process, and the firmware's check (the same OtaUpdate a board runs)."""
    import sys

    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config")}
    image = tmp_path / "stall-1.2.0.bin"
    image.write_bytes(host_image("1.2.0"))

    def kiosk(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "kiosk", *args], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    uploaded = kiosk("firmware", "upload", str(image), "--version", "1.2.0", "--kind", "esp32")
    fields = dict(line.split(None, 1) for line in uploaded.splitlines() if line.startswith(("sha256", "signature")))
    key = kiosk("firmware", "public-key").strip()

    def check(path: Path, signature: str = fields["signature"]) -> tuple[int, str]:
        done = subprocess.run([str(programs / "ota-verify"), key, fields["sha256"], signature, str(path)],
                              capture_output=True, text=True, timeout=30)
        return done.returncode, done.stdout.strip()

    assert check(image) == (0, "ok")
    flipped = tmp_path / "flipped.bin"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    assert check(flipped) == (1, "SHA-256 mismatch")
    forged = fields["signature"][:-2] + f"{int(fields['signature'][-2:], 16) ^ 1:02x}"
    assert check(image, forged) == (1, "signature does not verify")


def test_readings_taken_while_the_hub_is_down_arrive_later_with_their_own_time(hub: Hub, programs: Path,
                                                                                tmp_path: Path) -> None:
    device_id, sensor = stall_sensor(hub, programs, tmp_path / "sensor")
    again: Hub | None = None
    try:
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.0.0", timeout=10)
        wait_for(lambda: len(stall_rows(hub, device_id)) >= 1, timeout=10)
        before = {seq for _, _, seq in stall_rows(hub, device_id)}
        hub.stop()  # the hub goes away (its broker with it); the sensor keeps what it reads
        wait_for(lambda: sensor.said("disconnected"), timeout=10)
        went, mark = hub.clock(), len(sensor.lines)
        sensor.tell("door closed")
        wait_for(lambda: sensor.said("offline buffer: 1", mark), timeout=10)
        sensor.tell("door open")
        wait_for(lambda: sensor.said("offline buffer: 2", mark), timeout=10)
        taken = hub.clock()
        # The point is the readings' own time, so time must pass before they can be sent: 2 s, well over the
        # sensor's clock error (its time comes from an HTTP date, whole seconds: +-0.5 s).
        wait_for(lambda: hub.clock() - taken >= 2.0, timeout=5)
        again = Hub(hub.config, RecordingEvents())  # the same data folder and ports
        again.start()
        assert again.link.connected.wait(5)
        back = again.clock()
        wait_for(lambda: sensor.said("offline buffer: 0", mark), timeout=20)  # acknowledged: in the hub's journal

        def rows() -> list[tuple[str | None, float, str | None]]:
            assert again is not None
            again.writer.flush()
            with Session(again.engine) as session:
                return [(r.door, r.ts, r.seq) for r in session.scalars(
                    select(StallReading).where(StallReading.device_id == device_id).order_by(StallReading.ts))]

        wait_for(lambda: len([r for r in rows() if r[2] not in before]) >= 2, timeout=10)
        late = [(door, ts) for door, ts, seq in rows() if seq not in before][:2]
        assert [door for door, _ in late] == ["closed", "open"], rows()
        assert all(went - 0.6 <= ts <= taken + 0.6 for _, ts in late), (went, taken, back, late)  # when taken,
        assert back - taken >= 2.0  # not when they arrived
        seqs = [seq for _, _, seq in rows()]
        assert len(seqs) == len(set(seqs))
    finally:
        sensor.stop()
        if again is not None:
            again.stop()


def test_an_image_that_cannot_reach_the_hub_is_rolled_back_and_the_old_one_says_so(hub: Hub, programs: Path,
                                                                                    tmp_path: Path) -> None:
    device_id, sensor = stall_sensor(hub, programs, tmp_path / "sensor", trial_s=2)  # a board: 2 minutes
    try:
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.0.0", timeout=10)
        image = hub.firmware.upload(ADMIN, "esp32", "1.2.0", "broken.bin", host_image("1.2.0 broken"))
        hub.ota.start_update(ADMIN, image.id, [device_id])

        def job() -> tuple[JobState, str]:
            return next((j.state, j.detail) for j, _, _ in hub.firmware.recent_jobs() if j.device_id == device_id)

        wait_for(lambda: job()[0] is JobState.FAILED, timeout=40)  # 3 trial boots of 2 s, then the old image
        assert "rolled back to 1.0.0: 1.2.0 did not reach the hub" in job()[1]
        assert sensor.said("on trial") and sensor.said("rolling back")
        wait_for(lambda: (s := hub.ingest.tracker.get(device_id)) is not None and s.firmware == "1.0.0"
                 and s.online.value == "online", timeout=10)
    finally:
        sensor.stop()
