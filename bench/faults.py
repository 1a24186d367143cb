"""Fault injection, counted: publishers with sequence numbers against `kiosk --headless`, faults from outside, then
rows counted in the database. The bar: 0 acknowledged readings lost.

    python bench/faults.py [--quick] [--only kill-hub,kill-broker,sigterm,locked,fuzz,full-disk,backlog,soak,...]
                           [--soak-minutes 60]

Each publisher is a real paho client (QoS 1, persistent session, its device's id and token) that publishes
`{"value": N}` with N counting up as fast as the broker acknowledges (`--rate` to pace it). A reading counts as
acknowledged when paho's on_publish fired for it (PUBACK received). After the faults the hub is stopped with SIGTERM
and restarted once (it reads what its journal still holds), stopped again, and each device's stored values are
compared with what was acknowledged: lost = acknowledged and not stored; duplicates = stored more than once.
tests/faults/test_faults.py runs short versions of the same scenarios in `make test`. `full-disk` needs root (it mounts
a small tmpfs) and is left out without it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402

from tests.helpers import free_port  # noqa: E402  (ports below the ephemeral range)


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(0.02)


class HubProcess:
    """`kiosk --headless` in its own process group, on free loopback ports, with its own data folder. Every hub still
    running when this program ends (a scenario failed half-way) is killed with its broker."""

    running: list[HubProcess] = []

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.data_dir = data_dir
        self.broker_port, self.http_port = free_port(), free_port()
        self.env = {**os.environ, "KIOSK_DATA_DIR": str(data_dir), "KIOSK_CONFIG_DIR": str(data_dir / "config"),
                    "KIOSK_BROKER_BIND": "127.0.0.1", "KIOSK_HTTP_BIND": "127.0.0.1", "KIOSK_BROKER_WEBSOCKET": "0",
                    **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.log = log or data_dir.with_name(data_dir.name + ".log")

    def start(self, timeout: float = 60) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = self.log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--headless", "--broker-port", str(self.broker_port), "--http-port",
             str(self.http_port)], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        out.close()
        HubProcess.running.append(self)
        wait(lambda: (h := health(self.http_port)) and h["status"] == "ok", timeout, "the hub's health says ok")

    def broker_pid(self) -> int:
        """The embedded broker's child process (multiprocessing's spawn; not its resource tracker)."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)

        def find() -> int | None:
            for child in parent.children():
                try:
                    if "spawn_main" in " ".join(child.cmdline()):
                        return child.pid
                except psutil.Error:
                    continue
            return None

        return int(wait(find, 10, "the broker child"))

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def sigterm(self, timeout: float = 30) -> int:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@atexit.register
def _kill_leftover_hubs() -> None:
    for hub in HubProcess.running:
        if hub.process is not None and hub.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(hub.process.pid, signal.SIGKILL)


def provision(data_dir: Path, count: int) -> list[tuple[str, str]]:
    """Devices registered in the data folder's database before the hub starts: (id, token)."""
    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry

    engine = open_store(f"sqlite:///{data_dir / 'kiosk.db'}")
    try:
        registry = DeviceRegistry(engine)
        made = [registry.create(f"Fault sensor {n}", "sensor", "faults") for n in range(count)]
        return [(info.id, token) for info, token in made]
    finally:
        engine.dispose()


@dataclass
class Publisher:
    """One device publishing {"value": N}; `acked` holds every N whose PUBACK came back."""

    port: int
    device_id: str
    token: str
    rate: float = 0.0  # messages per second; 0 = as fast as acknowledgements allow
    energy: bool = False  # publish energy readings with power = N W (to one port) instead of telemetry
    acked: set[int] = field(default_factory=set)
    sent: int = 0
    _mids: dict[int, int] = field(default_factory=dict)
    _early: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _room: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(20))

    def start(self) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.device_id, protocol=mqtt.MQTTv311,
                             clean_session=False)
        client.username_pw_set(self.device_id, self.token)
        client.reconnect_delay_set(0.2, 2)
        client.max_queued_messages_set(0)
        client.on_publish = self._published
        client.connect_async("127.0.0.1", self.port, keepalive=10)
        client.loop_start()
        self.client = client
        self._thread = threading.Thread(target=self._run, name=f"publisher-{self.device_id[:8]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._room.acquire(timeout=0.2):
                continue
            seq = self.sent
            self.sent += 1
            # Not under the lock: paho may call on_publish (which takes it) before publish() returns.
            body = ({"port": "1", "voltage": 230.0, "current": seq / 230.0, "power": float(seq)} if self.energy
                    else {"value": seq})
            info = self.client.publish(f"devices/{self.device_id}/datastream", json.dumps(body), qos=1)
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self.acked.add(seq)
                else:
                    self._mids[info.mid] = seq
            if self.rate:
                time.sleep(1 / self.rate)

    def _published(self, _client: Any, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        with self._lock:
            seq = self._mids.pop(mid, None)
            if seq is not None:
                self.acked.add(seq)
            else:
                self._early.add(mid)
        self._room.release()

    def stop_sending(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def settle(self, timeout: float = 60) -> bool:
        """Wait until every message sent has been acknowledged (paho re-sends after reconnects)."""
        try:
            wait(lambda: len(self.acked) == self.sent, timeout, "all acknowledgements")
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass(frozen=True)
class Count:
    sent: int
    acked: int
    stored: int
    lost: int
    duplicates: int


def count(data_dir: Path, publishers: list[Publisher]) -> Count:
    connection = sqlite3.connect(data_dir / "kiosk.db")
    try:
        sent = acked = stored = lost = duplicates = 0
        for publisher in publishers:
            query = ("SELECT power, count(*) FROM energy_readings WHERE device_id = ? GROUP BY power"
                     if publisher.energy else
                     "SELECT value_num, count(*) FROM telemetry WHERE device_id = ? GROUP BY value_num")
            rows = connection.execute(query, (publisher.device_id,)).fetchall()
            values = {int(v): n for v, n in rows if v is not None}
            sent += publisher.sent
            acked += len(publisher.acked)
            stored += len(values)
            lost += len(publisher.acked - values.keys())
            duplicates += sum(n - 1 for n in values.values())
        return Count(sent, acked, stored, lost, duplicates)
    finally:
        connection.close()


def integrity(data_dir: Path) -> str:
    connection = sqlite3.connect(data_dir / "kiosk.db")
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


@dataclass
class Outcome:
    scenario: str
    detail: str
    count: Count
    integrity: str
    seconds: float
    notes: str = ""
    memory: list[tuple[float, float, float]] = field(default_factory=list)  # (s, hub MB, broker MB)

    @property
    def passed(self) -> bool:
        return self.count.lost == 0 and self.integrity == "ok" and self.count.acked > 0


class Run:
    """One scenario's hub and publishers; `finish()` stops everything, replays the journal, counts."""

    def __init__(self, data_dir: Path, devices: int = 2, rate: float = 0.0, energy: bool = False) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.started = time.monotonic()
        self.credentials = provision(data_dir, devices)
        self.hub = HubProcess(data_dir)
        self.hub.start()
        self.publishers = [Publisher(self.hub.broker_port, d, t, rate, energy) for d, t in self.credentials]
        for publisher in self.publishers:
            publisher.start()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is not None:
            self.abandon()

    def abandon(self) -> None:
        """A scenario failed half-way: stop the publishers and kill the hub, so nothing outlives it."""
        for publisher in self.publishers:
            with contextlib.suppress(Exception):
                publisher.stop_sending()
                publisher.close()
        if self.hub.process is not None and self.hub.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.hub.process.pid, signal.SIGKILL)
            self.hub.process.wait()

    def acked(self) -> int:
        return sum(len(p.acked) for p in self.publishers)

    def wait_acked(self, more: int, timeout: float = 90) -> None:
        target = self.acked() + more
        wait(lambda: self.acked() >= target, timeout, f"{more} more acknowledgements")

    def finish(self, scenario: str, detail: str, notes: str = "") -> Outcome:
        for publisher in self.publishers:
            publisher.stop_sending()
        if not self.hub.alive():
            self.hub.start()
        settled = all(p.settle() for p in self.publishers)
        for publisher in self.publishers:
            publisher.close()
        self.hub.sigterm()
        self.hub.start()  # reads what the journal still holds, then stops
        self.hub.sigterm()
        result = count(self.data_dir, self.publishers)
        if not settled:
            notes = (notes + "; " if notes else "") + "some messages never acknowledged"
        return Outcome(scenario, detail, result, integrity(self.data_dir), time.monotonic() - self.started, notes)


def kill_hub(base: Path, times: int, between: int) -> Outcome:
    with Run(base / "kill-hub") as run:
        for _ in range(times):
            run.wait_acked(between)
            run.hub.kill9()
            run.hub.start()
        run.wait_acked(between)
        return run.finish("kill -9 hub", f"{times} kills, {between} acks apart")


def kill_broker(base: Path, times: int, between: int) -> Outcome:
    with Run(base / "kill-broker") as run:
        for _ in range(times):
            run.wait_acked(between)
            os.kill(run.hub.broker_pid(), signal.SIGKILL)
            # Up to 30 s: kills this close together are a crash loop to the supervisor, which backs off.
            wait(lambda: (h := health(run.hub.http_port)) and h["status"] == "ok", 90, "the broker back")
        run.wait_acked(between)
        return run.finish("kill -9 broker child", f"{times} kills, {between} acks apart")


def sigterm_at_saturation(base: Path, times: int, between: int) -> Outcome:
    with Run(base / "sigterm", devices=4) as run:
        for _ in range(times):
            run.wait_acked(between)
            run.hub.sigterm()
            run.hub.start()
        run.wait_acked(between)
        return run.finish("SIGTERM at full speed", f"{times} stops, 4 publishers unpaced")


def locked_database(base: Path, seconds: float) -> Outcome:
    with Run(base / "locked", rate=100) as run:
        run.wait_acked(200)
        # Waits for the hub's writer to finish the commit it may be in the middle of.
        blocker = sqlite3.connect(run.data_dir / "kiosk.db", timeout=10)
        blocker.execute("BEGIN IMMEDIATE")
        before = run.acked()
        degraded = False
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            answer = health(run.hub.http_port)
            degraded = degraded or bool(answer and answer["status"] != "ok")
            time.sleep(0.2)
        during = run.acked() - before
        blocker.rollback()
        blocker.close()
        run.wait_acked(200)
        return run.finish("database locked", f"{seconds:g} s, 2 x 100 msg/s",
                          f"{during} acks while locked; health {'degraded' if degraded else 'said ok'}")


def fuzz(base: Path, messages: int) -> Outcome:
    """Random bytes and crafted JSON from one device, good readings from the others (and interleaved)."""
    with Run(base / "fuzz", devices=2, rate=200) as run:
        device_id, token = provision(run.data_dir, 1)[0]
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
        client.username_pw_set(device_id, token)
        client.connect("127.0.0.1", run.hub.broker_port)
        client.loop_start()
        assert run.hub.process is not None
        memory_before = rss_mb(run.hub.process.pid)
        rng = random.Random(13)
        crafted = [b'{"value": "\\ud800"}', b'{"value": ' + b"[" * 3000 + b"}", b'{"value": 1' + b"0" * 5000 + b"}",
                   b'{"value": 1e999}', b'{"voltage": -1, "current": 1, "power": 1}', b"\xff\xfe", b"",
                   b'{"uptime": "x"}', b'{"occupied": "maybe"}']
        channels = ("datastream", "status", "logs", "ack", "progress", "weather")
        for n in range(messages):
            payload = rng.choice(crafted) if n % 3 else bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            family = "device" if n % 2 else "devices"
            client.publish(f"{family}/{device_id}/{rng.choice(channels)}", payload, qos=1).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        answer = health(run.hub.http_port) or {}
        memory_after = rss_mb(run.hub.process.pid)
        return run.finish("fuzz", f"{messages:,} bad messages from one device, 2 good publishers",
                          f"rejected {answer.get('device_worker', {}).get('rejected'):,}; RSS hub "
                          f"{memory_before[0]:.0f} -> {memory_after[0]:.0f} MB, broker {memory_before[1]:.0f} -> "
                          f"{memory_after[1]:.0f} MB")


def backlog_replay(base: Path, hours: float) -> Outcome:
    """A device that was offline for `hours` sends its backlog (one reading a minute, with `ts` and `seq`) in
    messages of 100, then sends it all again (it did not hear that it was kept): every reading stored once."""
    with Run(base / "backlog", devices=1, rate=20) as run:
        device_id, token = provision(run.data_dir, 1)[0]
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
        client.username_pw_set(device_id, token)
        client.connect("127.0.0.1", run.hub.broker_port)
        client.loop_start()
        start = time.time() - hours * 3600
        readings = [{"value": n, "ts": round(start + 60 * n, 3), "seq": f"bk-{n}"} for n in range(int(hours * 60))]
        for _ in range(2):
            for first in range(0, len(readings), 100):
                client.publish(f"devices/{device_id}/datastream", json.dumps(readings[first:first + 100]),
                               qos=1).wait_for_publish(30)
        client.disconnect()
        client.loop_stop()
        run.wait_acked(100)
        outcome = run.finish("offline backlog", f"{hours:g} h at 1/min, sent twice, 1 live publisher")
        connection = sqlite3.connect(run.data_dir / "kiosk.db")
        try:
            kept, first_ts = connection.execute("SELECT count(*), min(ts) FROM telemetry WHERE device_id = ?",
                                                (device_id,)).fetchone()
        finally:
            connection.close()
        outcome.notes = (f"backlog: {len(readings):,} readings sent twice, {kept:,} stored, oldest at "
                         f"{(time.time() - first_ts) / 3600:.1f} h ago")
        if kept != len(readings):
            outcome.count = Count(outcome.count.sent, outcome.count.acked, outcome.count.stored,
                                  outcome.count.lost + max(0, len(readings) - kept),
                                  outcome.count.duplicates + max(0, kept - len(readings)))
        return outcome


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of the hub and of its broker child, MB."""
    hub = psutil.Process(pid)
    broker = sum(c.memory_info().rss for c in hub.children() if "spawn_main" in " ".join(c.cmdline()))
    return hub.memory_info().rss / 1e6, broker / 1e6


def soak(base: Path, seconds: float, devices: int = 200, warmup: float = 60.0, energy: bool = False) -> Outcome:
    """`devices` x 1 msg/s for `seconds`; every 30 s a tenth of them drop their connection, half with a
    DISCONNECT, half by closing the socket; the hub's and the broker's memory sampled every 10 s. `energy`: the
    devices are energy meters (one port each: the hub keeps 10 minutes of live points per port)."""
    with Run(base / ("soak-energy" if energy else "soak"), devices=devices, rate=1.0, energy=energy) as run:
        assert run.hub.process is not None
        pid = run.hub.process.pid
        rng = random.Random(30)
        samples: list[tuple[float, float, float]] = []
        started = time.monotonic()
        next_drop, next_sample = started + 30, started
        while time.monotonic() - started < seconds:
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - started, *rss_mb(pid)))
                next_sample += 10
            if now >= next_drop:
                for n, publisher in enumerate(rng.sample(run.publishers, max(1, devices // 10))):
                    if n % 2:  # cleanly: DISCONNECT, then back with the same persistent session
                        publisher.client.disconnect()
                        publisher.client.loop_stop()
                        publisher.client.reconnect()
                        publisher.client.loop_start()
                    else:
                        sock = publisher.client.socket()
                        if sock is not None:  # abruptly: no DISCONNECT (the will is sent); paho reconnects
                            with contextlib.suppress(OSError):
                                sock.shutdown(socket.SHUT_RDWR)
                next_drop += 30
            time.sleep(0.2)
        warm = [s for s in samples if s[0] >= warmup] or samples
        hub_growth = (warm[-1][1] - warm[0][1]) / max(1e-9, (warm[-1][0] - warm[0][0]) / 3600)
        notes = (f"hub RSS {samples[0][1]:.0f} -> {warm[0][1]:.0f} (after {warmup:.0f} s) -> {warm[-1][1]:.0f} MB "
                 f"({hub_growth:+.1f} MB/h after warm-up); broker {warm[0][2]:.0f} -> {warm[-1][2]:.0f} MB")
        outcome = run.finish("soak (energy meters)" if energy else "soak",
                             f"{devices} devices x 1 msg/s for {seconds / 60:.0f} min, 10 % dropping every 30 s", notes)
        outcome.memory = samples
        return outcome


def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root, and a container that allows it): tried, not guessed."""
    if os.geteuid() != 0:
        return False
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kiosk-mount-") as where:
        tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", where], capture_output=True)
        if tried.returncode != 0:
            return False
        subprocess.run(["umount", where], capture_output=True)
        return True


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the broker)."""
    total = 0.0
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def full_disk(base: Path, seconds: float, size_mb: int = 48) -> Outcome:
    """The data folder on a small tmpfs that a filler file fills up; then the filler goes."""
    mount = base / "full-disk"
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)], check=True)
    try:
        with Run(mount / "data", rate=100) as run:
            run.wait_acked(300)
            filler = mount / "filler"
            with filler.open("wb") as out:
                try:
                    while True:
                        out.write(b"\0" * (1 << 20))
                        out.flush()
                except OSError:
                    pass
            assert run.hub.process is not None
            # The first second is grace: a PUBACK already on its way, or a commit that fitted into space the
            # journal's files already held (stored for real: the count below proves it), may still arrive.
            at_fill, cpu_before = run.acked(), cpu_seconds(run.hub.process.pid)
            degraded = False
            started = time.monotonic()
            after_grace = None
            while time.monotonic() - started < seconds:
                if after_grace is None and time.monotonic() - started >= 1.0:
                    after_grace = run.acked()
                answer = health(run.hub.http_port)
                degraded = degraded or bool(answer and answer["status"] != "ok")
                time.sleep(0.25)
            cpu = (cpu_seconds(run.hub.process.pid) - cpu_before) / (time.monotonic() - started)
            end = run.acked()
            after_grace = end if after_grace is None else after_grace
            filler.unlink()
            run.wait_acked(300, timeout=60)
            return run.finish("disk full", f"{size_mb} MB tmpfs filled for {seconds:g} s, 2 x 100 msg/s",
                              f"{end - after_grace} acks while full ({after_grace - at_fill} in the first "
                              f"second); {cpu:.0%} of a core; health {'degraded' if degraded else 'said ok'}")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


SCENARIOS: dict[str, Callable[[Path, bool], Outcome]] = {
    "kill-hub": lambda base, quick: kill_hub(base, 3 if quick else 10, 300 if quick else 1000),
    "kill-broker": lambda base, quick: kill_broker(base, 3 if quick else 10, 300 if quick else 1000),
    "sigterm": lambda base, quick: sigterm_at_saturation(base, 2 if quick else 5, 1000 if quick else 5000),
    "locked": lambda base, quick: locked_database(base, 6 if quick else 30),
    "fuzz": lambda base, quick: fuzz(base, 2000 if quick else 100_000),
    "full-disk": lambda base, quick: full_disk(base, 10 if quick else 60),
    "backlog": lambda base, quick: backlog_replay(base, 2 if quick else 24),
    "soak": lambda base, quick: soak(base, 90 if quick else SOAK_SECONDS),
    "soak-energy": lambda base, quick: soak(base, 90 if quick else SOAK_SECONDS, energy=True),
}
SOAK_SECONDS = 600.0  # --soak-minutes


def table(outcomes: list[Outcome]) -> str:
    lines = ["| scenario | what | sent | acked | stored | lost | duplicates | integrity | s | notes |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for o in outcomes:
        c = o.count
        lines.append(f"| {o.scenario} | {o.detail} | {c.sent:,} | {c.acked:,} | {c.stored:,} | **{c.lost}** | "
                     f"{c.duplicates} | {o.integrity} | {o.seconds:.0f} | {o.notes} |")
    return "\n".join(lines)


def main() -> int:
    global SOAK_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer faults, shorter runs")
    parser.add_argument("--only", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    parser.add_argument("--soak-minutes", type=float, default=SOAK_SECONDS / 60, help="how long the soak runs")
    args = parser.parse_args()
    SOAK_SECONDS = args.soak_minutes * 60
    import tempfile

    names = args.only.split(",") if args.only else [n for n in SCENARIOS if n != "full-disk" or can_mount()]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="kiosk-faults-") as tmp:
        for name in names:
            print(f"running {name} ...", flush=True)
            outcomes.append(SCENARIOS[name](Path(tmp), args.quick))
            print(table(outcomes[-1:]).splitlines()[-1], flush=True)
    for outcome in outcomes:
        if outcome.memory:
            print(f"\n{outcome.scenario}: resident memory (MB) every minute")
            print("| minute | hub | broker |\n| ---: | ---: | ---: |")
            for at, hub, broker in outcome.memory[::6]:
                print(f"| {at / 60:.0f} | {hub:.1f} | {broker:.1f} |")
    print()
    print(table(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
