"""Load generator for bench/energy.py, in its own process: energy meters over raw MQTT sockets at a steady rate.

    python bench/energy_load.py PORT CREDENTIALS.json RATE SECONDS PORTS

Each meter (a list of [device id, token]) sends readings for PORTS channels in turn; together they send RATE
readings per second, spread evenly, for SECONDS. Prints "ready" once connected, then the number sent.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import connect_packet, publish_packet  # noqa: E402


def main(port: int, credentials: str, rate: float, seconds: float, ports: int) -> None:
    meters = json.loads(Path(credentials).read_text(encoding="utf-8"))
    socks = []
    for n, (device_id, token) in enumerate(meters):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(connect_packet(f"bench-meter-{n}", device_id, token, keepalive=120))
        if sock.recv(4)[3:4] != b"\x00":
            raise SystemExit(f"meter {n} was refused")
        socks.append((sock, f"devices/{device_id}/datastream"))
    print("ready", flush=True)
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        due = start + sent / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sock, topic = socks[sent % len(socks)]
        channel = (sent // len(socks)) % ports + 1
        power = 100.0 + (sent % 7)
        sock.sendall(publish_packet(topic, json.dumps({"port": str(channel), "voltage": 230.0,
                                                       "current": round(power / 230.0, 5),
                                                       "power": power}).encode()))
        sent += 1
    time.sleep(0.5)
    for sock, _ in socks:
        sock.close()
    print(sent, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
