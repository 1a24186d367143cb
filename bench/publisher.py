"""Load generator for bench/ingest.py, run as its own process so it does not share the hub's GIL.

    python bench/publisher.py PORT CREDENTIALS.json RATE DURATION [QOS]

Connects every device in the credentials file (a list of [id, token]), then publishes telemetry round-robin at RATE
messages per second in total (0: as fast as possible) for DURATION seconds. Each payload carries its send time.
Prints one JSON line with what it sent and, at QoS 1/2, each message's publish-to-acknowledgement time (ms).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import paho.mqtt.client as mqtt


def main(port: int, credentials: str, rate: float, duration: float, qos: int = 0) -> None:
    devices = json.loads(open(credentials, encoding="utf-8").read())
    clients = []
    connected = threading.Semaphore(0)
    lock = threading.Lock()
    sent_at: dict[tuple[int, int], float] = {}  # (client, mid) -> monotonic send time
    early: dict[tuple[int, int], float] = {}  # acknowledged before publish() returned its mid
    puback_ms: list[float] = []

    def published(client: mqtt.Client, _userdata: object, mid: int, _reason: object, _props: object) -> None:
        now = time.monotonic()
        key = (id(client), mid)
        with lock:
            started = sent_at.pop(key, None)
            if started is None:
                early[key] = now
            else:
                puback_ms.append((now - started) * 1000)

    for device_id, token in devices:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{device_id[:8]}",
                             protocol=mqtt.MQTTv311)
        client.username_pw_set(device_id, token)
        client.on_connect = lambda *_a: connected.release()
        client.on_publish = published
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", port, keepalive=60)
        client.loop_start()
        clients.append((device_id, client))
    for _ in clients:
        if not connected.acquire(timeout=30):
            raise SystemExit("devices did not all connect")
    print("ready", flush=True)
    sent = 0
    start = time.monotonic()
    end = start + duration
    interval = 1.0 / rate if rate else 0.0
    next_at = start
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if interval and now < next_at:
            time.sleep(min(next_at - now, 0.005))
            continue
        device_id, client = clients[sent % len(clients)]
        started = time.monotonic()
        info = client.publish(f"devices/{device_id}/datastream", json.dumps({"value": time.time()}), qos=qos)
        if qos:
            key = (id(client), info.mid)
            with lock:
                acked = early.pop(key, None)
                if acked is None:
                    sent_at[key] = started
                else:
                    puback_ms.append((acked - started) * 1000)
        sent += 1
        next_at += interval
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 15
    while qos and sent_at and time.monotonic() < deadline:  # the last acknowledgements
        time.sleep(0.01)
    for _, client in clients:
        client.disconnect()
        client.loop_stop()
    print(json.dumps({"sent": sent, "seconds": elapsed, "puback_ms": puback_ms, "unacked": len(sent_at)}),
          flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]),
         int(sys.argv[5]) if len(sys.argv) > 5 else 0)
