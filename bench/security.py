"""What an attacker on the LAN gets from `kiosk --headless`, measured from outside, with Mosquitto (no slow-down
configured: what a broker does without one) as the reference in the same run.

    python bench/security.py [--seconds 10]

- guessing MQTT logins: 8 parallel connections from one address, each trying wrong tokens for one device as fast as
  the broker answers; answers per second, and how long a good device's login takes meanwhile;
- guessing HTTP device tokens: the same against POST /api/sensor/reading;
- slowloris: 300 sockets that send half a request header and then nothing: how many the hub still holds after 15 s;
- a 50 MB chunked body: how much the client sends before the 413;
- legacy mode: new anonymous board names logging in for 30 s: how many the hub admits (the cap is 50).
Prints one table; docs/security.md keeps the numbers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from broker import start_mosquitto  # noqa: E402
from faults import HubProcess, health, provision  # noqa: E402

from kiosk.services.broker.gatekeeper import Credentials, internal_credentials  # noqa: E402
from tests.helpers import connect_packet, read_packet  # noqa: E402

PARALLEL = 8


def in_parallel(attempt: Any, seconds: float) -> int:
    """PARALLEL threads calling `attempt(thread, n)` until `seconds` are up; how many attempts were answered (an
    attempt that raised OSError, or ran past the time, was not)."""
    answered = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(thread: int) -> None:
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                attempt(thread, n, max(0.1, stop - time.monotonic()))
            except OSError:
                continue
            with lock:
                answered[0] += 1

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answered[0]


def guess_logins(port: int, username: str, seconds: float) -> int:
    """Wrong-token CONNECTs answered within `seconds`."""
    def attempt(thread: int, n: int, timeout: float) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(connect_packet(f"guess-{thread}-{n}", username, f"wrong-{thread}-{n}"))
            read_packet(s)

    return in_parallel(attempt, seconds)


def good_login_ms(port: int, username: str, password: str) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(connect_packet("the-real-device", username, password))
        kind, _flags, body = read_packet(s)
    assert kind == 2 and body[1] == 0, body
    return (time.monotonic() - started) * 1000


def guess_tokens(port: int, port_id: str, seconds: float) -> int:
    """Wrong-token HTTP readings answered within `seconds`."""
    def attempt(thread: int, n: int, timeout: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request("POST", "/api/sensor/reading", json.dumps(
                {"deviceToken": f"wrong-{thread}-{n}", "portId": port_id, "voltage": 230, "current": 0.1,
                 "power": 23}), {"Content-Type": "application/json"})
            connection.getresponse().read()
        finally:
            connection.close()

    return in_parallel(attempt, seconds)


def slowloris(port: int, sockets: int = 300, after_s: float = 15.0) -> tuple[int, int]:
    """(closed at once, still open after `after_s`) of sockets sending half a header."""
    held = []
    for _ in range(sockets):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /api/sensor/reading HTTP/1.1\r\nHost: kiosk\r\n")
            held.append(s)
        except OSError:
            pass
    time.sleep(0.5)

    def closed(s: socket.socket) -> bool:
        s.setblocking(False)
        try:
            return s.recv(1) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    at_once = sum(closed(s) for s in held)
    time.sleep(after_s - 0.5)  # the measurement: which are still open after that long
    still_open = sum(not closed(s) for s in held)
    for s in held:
        s.close()
    return at_once, still_open


def huge_body(port: int, megabytes: int = 50) -> int:
    """Bytes sent before the server answered (or closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /api/sensor/reading HTTP/1.1\r\nHost: kiosk\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    sent = 0
    s.setblocking(False)
    try:
        while sent < megabytes * 1024 * 1024:
            try:
                if s.recv(1):
                    break
            except BlockingIOError:
                pass
            s.setblocking(True)
            s.sendall(chunk)
            s.setblocking(False)
            sent += len(chunk)
    except OSError:
        pass
    s.close()
    return sent


def legacy_flood(port: int, names: int = 200, budget_s: float = 30.0) -> tuple[int, int, int, int]:
    """(tried, admitted, refused, left waiting > 1 s) of anonymous names logging in one after another from
    127.0.0.3, for at most `budget_s`."""
    admitted = refused = waiting = tried = 0
    stop = time.monotonic() + budget_s
    for n in range(names):
        if time.monotonic() > stop:
            break
        tried += 1
        with socket.create_connection(("127.0.0.1", port), timeout=1, source_address=("127.0.0.3", 0)) as s:
            s.sendall(connect_packet(f"Flood{n}"))
            try:
                code = read_packet(s)[2][1]
            except (TimeoutError, socket.timeout):
                waiting += 1
                continue
            if code:
                refused += 1
                continue
            admitted += 1
            topic = f"Flood{n}".encode()
            s.sendall(bytes([0x30, 2 + len(topic) + 1]) + len(topic).to_bytes(2, "big") + topic + b"0")
    return tried, admitted, refused, waiting


def settled_health(port: int) -> dict[str, Any]:
    """Health once the broker's refusal counts stop moving (slowed answers still arrive; stats come each second)."""
    last: Any = None
    for _ in range(60):
        answer = health(port)
        counts = answer and answer["broker"]["refused_logins"]
        if counts and counts == last:
            return answer  # type: ignore[return-value]
        last = counts
        time.sleep(2)  # two of the broker's stats intervals
    raise SystemExit("the broker's refusal counts did not settle")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-security-") as tmp:
        data = Path(tmp) / "hub"
        data.mkdir()
        [(device_id, token)] = provision(data, 1)
        from kiosk.store.db import open_store
        from kiosk.store.energy import EnergyStore

        port_id = EnergyStore(open_store(f"sqlite:///{data / 'kiosk.db'}")).add_port(device_id, "Printer", "bench").id
        hub = HubProcess(data, env={"KIOSK_STALLS_LEGACY_STALLSENSE": "1"})
        hub.start()
        try:
            print("guessing MQTT logins ...", flush=True)
            result: dict[str, Any] = {}
            thread = threading.Thread(target=lambda: result.update(n=guess_logins(hub.broker_port, device_id,
                                                                                 args.seconds)))
            thread.start()
            time.sleep(args.seconds / 2)
            good = good_login_ms(hub.broker_port, device_id, token)
            thread.join()
            rows.append(("wrong MQTT logins answered, 8 connections, one address",
                         f"{result['n'] / args.seconds:.1f}/s; a good login meanwhile {good:.0f} ms", ""))
            print("guessing HTTP tokens ...", flush=True)
            answered = guess_tokens(hub.http_port, port_id, args.seconds)
            rows.append(("wrong HTTP tokens answered, 8 connections, one address", f"{answered / args.seconds:.1f}/s",
                         "n/a"))
            print("slowloris ...", flush=True)
            at_once, still_open = slowloris(hub.http_port)
            rows.append(("300 half-sent HTTP requests: closed at once / still open after 15 s",
                         f"{at_once} / {still_open}", "n/a"))
            print("huge body ...", flush=True)
            rows.append(("50 MB chunked body: sent before the 413", f"{huge_body(hub.http_port) / 1e6:.1f} MB", "n/a"))
            print("legacy flood ...", flush=True)
            tried, admitted, refused_now, slowed = legacy_flood(hub.broker_port)
            pending = settled_health(hub.http_port)
            rows.append(("new anonymous board names, one after another for 30 s (legacy mode, cap 50)",
                         f"{tried} tried: {admitted} admitted, {refused_now} refused at once, {slowed} not answered "
                         "within 1 s", "n/a"))
            refused = pending["broker"]["refused_logins"]
            rows.append(("refusals counted by the hub", ", ".join(f"{k}: {v}" for k, v in sorted(refused.items())),
                         ""))
        finally:
            hub.sigterm()
        folder = Path(tmp) / "mosquitto"
        folder.mkdir()
        internal = internal_credentials(folder)
        process, port = start_mosquitto(folder, internal, [Credentials(device_id, token)])
        try:
            print("guessing MQTT logins on Mosquitto ...", flush=True)
            result = {}
            thread = threading.Thread(target=lambda: result.update(n=guess_logins(port, device_id, args.seconds)))
            thread.start()
            time.sleep(args.seconds / 2)
            good = good_login_ms(port, device_id, token)
            thread.join()
            rows[0] = (rows[0][0], rows[0][1], f"{result['n'] / args.seconds:.1f}/s; a good login meanwhile "
                                               f"{good:.0f} ms")
        finally:
            process.terminate()
            process.wait(10)
    print("\n| attempt | kiosk | Mosquitto 2.0.11 (reference) |\n| --- | --- | --- |")
    for what, ours, reference in rows:
        print(f"| {what} | {ours} | {reference} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
