"""Load generator for bench/stalls.py, in its own process: stall sensors over raw sockets, plus a display's view.

    python bench/stall_load.py PORT CREDENTIALS.json SECONDS BURST BURST_EVERY INTERNAL_USER INTERNAL_PASSWORD

Every sensor (a list of [device id, token, stall id]) reports its stall's state every 10 s, spread evenly; every
BURST_EVERY seconds BURST random stalls change at once. A paho client subscribed to kiosk/state/stalls/+ plays the
wall display. Prints "ready", then at the end one JSON line: the changes sent (stall, state, time) and when the
display saw each stall's new state.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import connect_packet, publish_packet  # noqa: E402

REPORT_S = 10.0


def body(occupied: bool) -> bytes:
    return json.dumps({"door": "closed" if occupied else "open", "thermal": occupied}).encode()


def main(port: int, credentials: str, seconds: float, burst: int, burst_every: float, user: str,
         password: str) -> None:
    sensors = json.loads(Path(credentials).read_text(encoding="utf-8"))
    seen: list[tuple[int, str, float]] = []
    display = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-display", protocol=mqtt.MQTTv311)
    display.username_pw_set(user, password)
    subscribed = threading.Event()
    display.on_connect = lambda c, *_a: c.subscribe("kiosk/state/stalls/+", 1)
    display.on_subscribe = lambda *_a: subscribed.set()
    display.on_message = lambda _c, _u, m: seen.append((int(m.topic.rsplit("/", 1)[1]),
                                                        json.loads(m.payload)["state"], time.time()))
    display.connect("127.0.0.1", port)
    display.loop_start()
    socks = []
    for n, (device_id, token, _stall) in enumerate(sensors):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(connect_packet(f"stall-sensor-{n}", device_id, token, keepalive=120))
        if sock.recv(4)[3:4] != b"\x00":
            raise SystemExit(f"sensor {n} was refused")
        socks.append(sock)
    if not subscribed.wait(30):
        raise SystemExit("the display client could not subscribe")
    occupied = [False] * len(sensors)
    rng = random.Random(7)
    changes: list[tuple[int, str, float]] = []
    reports = 0

    def send(index: int) -> None:
        device_id = sensors[index][0]
        socks[index].sendall(publish_packet(f"devices/{device_id}/datastream", body(occupied[index])))

    for index in range(len(sensors)):  # everyone says where they stand first
        send(index)
    time.sleep(3.0)
    print("ready", flush=True)
    start = time.monotonic()
    next_burst = start + burst_every
    spacing = REPORT_S / len(sensors)
    next_report, cursor = start, 0
    while (now := time.monotonic()) - start < seconds:
        if now >= next_burst:
            for index in rng.sample(range(len(sensors)), burst):
                occupied[index] = not occupied[index]
                changes.append((sensors[index][2], "occupied" if occupied[index] else "vacant", time.time()))
                send(index)
            next_burst += burst_every
        while now >= next_report:
            send(cursor)
            reports += 1
            cursor = (cursor + 1) % len(sensors)
            next_report += spacing
        time.sleep(0.002)
    time.sleep(3.0)  # let the last burst arrive everywhere
    display.loop_stop()
    display.disconnect()
    for sock in socks:
        sock.close()
    print(json.dumps({"changes": changes, "display": seen, "reports": reports, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6],
         sys.argv[7])
