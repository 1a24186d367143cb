"""The embedded broker against Mosquitto, in the same run: many devices publishing once a second, plus one subscriber.

    python bench/broker.py [--devices 1000] [--seconds 20] [--cycles 20000] [--quick]

For each broker: every device connects with its own credentials (raw sockets from one thread, so that the load
generator stays light and the same for both brokers), then publishes once a second, spread evenly, at QoS 0 and then
QoS 1, while one paho subscriber (the hub's account) receives everything. Reported: delivered rate, p50/p99 latency
(send time in the payload -> subscriber), broker CPU per 1,000 messages, broker memory. Then `--cycles`
connect/disconnect cycles (one in ten with a wrong token) and the broker's memory before and after.
The embedded broker runs as the product runs it: in its own process, with the kiosk's plugins and fixes.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402

from bench.stats import pct  # noqa: E402
from kiosk.services.broker.gatekeeper import Credentials, internal_credentials  # noqa: E402
from kiosk.services.broker.process import BrokerProcess  # noqa: E402
from kiosk.services.broker.service import ListenerSpec  # noqa: E402
from kiosk.services.mqtt_client import close_client  # noqa: E402
from kiosk.store.db import open_store  # noqa: E402
from kiosk.store.devices import DeviceRegistry  # noqa: E402
from tests.helpers import connect_packet, free_port, publish_packet  # noqa: E402


@dataclass
class Row:
    name: str
    sent: int = 0
    received: int = 0
    latency_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    rss_mb: float = 0.0
    seconds: float = 0.0
    dropped: int = 0


def qos1_publish(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic.encode() + packet_id.to_bytes(2, "big") + payload
    size, out = len(body), bytearray()
    while True:
        byte, size = size % 128, size // 128
        out.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([0x32]) + bytes(out) + body


class Fleet:
    """Raw-socket devices: connect all, publish at a steady total rate, drain whatever the broker sends back."""

    def __init__(self, port: int, devices: list[Credentials]) -> None:
        self.sockets: list[tuple[socket.socket, str]] = []
        self.selector = selectors.DefaultSelector()
        self.dropped: set[int] = set()  # devices whose connection the broker closed
        for n, device in enumerate(devices):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(connect_packet(f"bench-{n}", device.username, device.password, keepalive=120))
            if sock.recv(4)[3:4] != b"\x00":
                raise SystemExit(f"device {n} was refused")
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.sockets.append((sock, device.username))

    def drain(self) -> None:
        for key, _ in self.selector.select(0):
            try:
                key.fileobj.recv(65536)  # type: ignore[union-attr]
            except (BlockingIOError, ConnectionError):
                pass

    def run(self, seconds: float, qos: int) -> int:
        rate = len(self.sockets)  # one message per device per second
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < seconds:
            due = int((now - start) * rate)
            while sent < due:
                index = sent % len(self.sockets)
                sock, device_id = self.sockets[index]
                sent += 1
                if index in self.dropped:
                    continue
                payload = json.dumps({"value": time.time()}).encode()
                topic = f"devices/{device_id}/datastream"
                packet = qos1_publish(topic, payload, sent % 65535 + 1) if qos else publish_packet(topic, payload)
                try:
                    sock.setblocking(True)
                    sock.sendall(packet)
                    sock.setblocking(False)
                except OSError as exc:
                    self.dropped.add(index)
                    print(f"device {index}: the broker closed its connection ({exc})", file=sys.stderr)
            self.drain()
            time.sleep(0.001)
        return sent - self._lost(sent)

    def _lost(self, sent: int) -> int:
        """Messages not sent because their device's connection was gone."""
        n = len(self.sockets)
        return sum(sent // n + (1 if i < sent % n else 0) for i in self.dropped)

    def close(self) -> None:
        for sock, _ in self.sockets:
            try:
                sock.sendall(b"\xe0\x00")
            except OSError:
                pass
            sock.close()
        self.selector.close()


def subscriber(port: int, account: Credentials, qos: int, row: Row) -> mqtt.Client:
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{qos}", protocol=mqtt.MQTTv311)
    client.username_pw_set(account.username, account.password)

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        row.received += 1
        row.latency_ms.append((time.time() - json.loads(message.payload)["value"]) * 1000)

    client.on_connect = lambda c, *_a: c.subscribe("devices/+/datastream", qos)
    client.on_subscribe = lambda *_a: ready.set()
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not ready.wait(30):
        raise SystemExit("the subscriber could not subscribe")
    return client


def measure(name: str, port: int, broker_pid: int, account: Credentials, devices: list[Credentials], seconds: float,
            qos: int) -> Row:
    row = Row(f"{name}, QoS {qos}")
    sub = subscriber(port, account, qos, row)
    fleet = Fleet(port, devices)
    process = psutil.Process(broker_pid)
    cpu = process.cpu_times()
    row.sent = fleet.run(seconds, qos)
    deadline = time.monotonic() + 10
    while row.received < row.sent and time.monotonic() < deadline:
        fleet.drain()
        time.sleep(0.05)
    after = process.cpu_times()
    row.cpu_s = (after.user + after.system) - (cpu.user + cpu.system)
    row.rss_mb = process.memory_info().rss / 1e6
    row.seconds = seconds
    row.dropped = len(fleet.dropped)
    fleet.close()
    close_client(sub)
    return row


def cycles(port: int, devices: list[Credentials], count: int, broker_pid: int) -> tuple[float, float, float]:
    """Connect/disconnect `count` times (every tenth with a wrong token); broker RSS before and after, and time."""
    process = psutil.Process(broker_pid)
    before = process.memory_info().rss / 1e6
    start = time.monotonic()
    for n in range(count):
        device = devices[n % len(devices)]
        password = "wrong" if n % 10 == 9 else device.password
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(connect_packet(f"cycle-{n}", device.username, password))
            sock.recv(4)
            sock.sendall(b"\xe0\x00")
    return before, process.memory_info().rss / 1e6, time.monotonic() - start


def start_mosquitto(folder: Path, internal: Credentials, devices: list[Credentials]) -> tuple[subprocess.Popen, int]:
    passwd = folder / "mosquitto.passwd"
    passwd.write_text("".join(f"{d.username}:{d.password}\n" for d in [internal, *devices]))
    subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True)
    acl = folder / "mosquitto.acl"
    acl.write_text(f"user {internal.username}\ntopic readwrite #\n\npattern readwrite devices/%u/#\n")
    port = free_port()
    conf = folder / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                    f"persistence false\nlog_dest none\nmax_queued_messages 100000\n{user}")
    process = subprocess.Popen(["mosquitto", "-c", str(conf)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("mosquitto did not start")


def table(rows: list[Row]) -> str:
    head = (f"{'broker, QoS':24} {'sent':>7} {'recv':>7} {'msg/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'CPU s/1k msg':>12} {'RSS MB':>7} {'dropped':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.name:24} {r.sent:7d} {r.received:7d} {r.received / r.seconds:7.0f} "
                     f"{pct(r.latency_ms, 50):8.1f} {pct(r.latency_ms, 99):8.1f} "
                     f"{r.cpu_s / max(r.received, 1) * 1000:12.3f} {r.rss_mb:7.1f} {r.dropped:7d}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.seconds, args.cycles = 200, 4, 500
    rows: list[Row] = []
    memory: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'kiosk.db'}"
        registry = DeviceRegistry(open_store(url))
        devices = [Credentials(info.id, token) for info, token in
                   (registry.create(f"bench {n}", "sensor", "bench") for n in range(args.devices))]
        internal = internal_credentials(folder)
        port = free_port()
        # Every tenth cycle logs in with a wrong token from 127.0.0.1: the failed-login slow-down would hold those
        # answers (up to 30 s) and measure the throttle, not the memory per connection; Mosquitto has none.
        spec = ListenerSpec("127.0.0.1", port, max_connections=args.devices + 100, max_inflight=1000,
                            login_free_failures=10**9)
        log_level = os.environ.get("BENCH_BROKER_LOG", "WARNING")  # INFO shows why the broker closes connections
        kiosk = BrokerProcess(spec, url, folder, log_level)
        kiosk.start()
        try:  # a failure must not leave the broker's supervisor thread holding the process (make bench hung)
            assert kiosk.pid is not None
            for qos in (0, 1):
                rows.append(measure("embedded (amqtt+fixes)", port, kiosk.pid, internal, devices, args.seconds, qos))
            before, after, took = cycles(port, devices, args.cycles, kiosk.pid)
            memory.append(f"embedded:  {args.cycles} cycles in {took:.0f} s, RSS {before:.1f} -> {after:.1f} MB")
        finally:
            kiosk.stop()
        if shutil.which("mosquitto"):
            process, port = start_mosquitto(folder, internal, devices)
            for qos in (0, 1):
                rows.append(measure("mosquitto 2.0", port, process.pid, internal, devices, args.seconds, qos))
            before, after, took = cycles(port, devices, args.cycles, process.pid)
            memory.append(f"mosquitto: {args.cycles} cycles in {took:.0f} s, RSS {before:.1f} -> {after:.1f} MB")
            process.terminate()
            process.wait(10)
    print(f"broker benchmark: {args.devices} devices x 1 msg/s for {args.seconds:g} s per row, one subscriber, "
          f"{os.cpu_count()} cores")
    print(table(rows))
    print("dropped: device connections the broker closed during the row (their messages are not counted as sent)")
    print("\n".join(memory))


if __name__ == "__main__":
    main()
