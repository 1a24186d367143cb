"""The hub's event stream (`GET /api/v1/events`, a WebSocket), read on a thread of its own; standard library only.

It reconnects by itself (0.5 s, doubling to 5 s) and says each change of state in words (`on_state(connected,
detail)`), so a screen can tell "the hub stopped" from "the network is gone" at once. A hub heard from neither by
an event nor by its ping for `SILENCE_S` is taken as gone. Each event is handed to `on_event` as the decoded JSON
object (`seq`, `topic`, `data`, `at`) on this thread; screens hand it on to their GUI thread.

The WebSocket client is the minimum RFC 6455 asks of one: the opening handshake with its accept check, masked
frames out, fragmented text frames in, pings answered, the closing handshake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SILENCE_S = 35.0  # the hub pings every 10 s
MAX_MESSAGE = 4 * 1024 * 1024
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 5.0
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class StreamClosed(ConnectionError):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class WebSocket:
    """One client connection: `recv()` returns each text message; pings are answered inside."""

    def __init__(self, host: str, port: int, tls: bool, path: str, headers: dict[str, str],
                 timeout_s: float = SILENCE_S, connect_timeout_s: float = 5.0) -> None:
        raw = socket.create_connection((host, port), timeout=connect_timeout_s)
        self.sock: socket.socket = (ssl.create_default_context().wrap_socket(raw, server_hostname=host) if tls
                                    else raw)
        self.sock.settimeout(connect_timeout_s)
        self._buffer = b""
        self._send_lock = threading.Lock()
        try:
            self._handshake(host, port, path, headers)
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(timeout_s)

    def _handshake(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n", 16384)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1]) if status_line.startswith("HTTP/") else 0
        answer = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        if status != 101:
            body = self._buffer[:int(answer.get("content-length", "0") or 0)]
            detail = ""
            try:
                detail = json.loads(body).get("message", "") if body else ""
            except (ValueError, AttributeError):
                pass
            raise StreamClosed(f"the hub refused the event stream ({status}{': ' + detail if detail else ''})",
                               status)
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if answer.get("sec-websocket-accept") != expected:
            raise StreamClosed("the hub's WebSocket handshake is not valid")

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        while marker not in self._buffer:
            if len(self._buffer) > limit:
                raise StreamClosed("the hub's answer is too long")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise StreamClosed("the hub closed the connection")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_exact(self, count: int) -> bytes:
        while len(self._buffer) < count:
            chunk = self.sock.recv(max(65536, count - len(self._buffer)))
            if not chunk:
                raise StreamClosed("the hub closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read_exact(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(8))
        if length > MAX_MESSAGE:
            raise StreamClosed("a message from the hub is larger than 4 MB")
        mask = self._read_exact(4) if second & 0x80 else b""
        payload = self._read_exact(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

    def send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self._send_lock:
            self.sock.sendall(head + mask + masked)

    def recv(self) -> str:
        """The next text message; raises StreamClosed when the hub closes, socket.timeout after `timeout_s` of
        silence."""
        parts: list[bytes] = []
        while True:
            final, opcode, payload = self._frame()
            if opcode == OP_PING:
                self.send(OP_PONG, payload)
            elif opcode == OP_PONG:
                pass
            elif opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                try:
                    self.send(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                raise StreamClosed(reason or "the hub closed the event stream", code)
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                parts.append(payload)
                if sum(map(len, parts)) > MAX_MESSAGE:
                    raise StreamClosed("a message from the hub is larger than 4 MB")
                if final:
                    return b"".join(parts).decode("utf-8")

    def close(self) -> None:
        try:
            self.send(OP_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class EventStream:
    """Follows the hub's events until `stop()`; `target` is ApiClient.websocket_target."""

    def __init__(self, target: Callable[[], tuple[str, int, bool, str, dict[str, str]]],
                 on_event: Callable[[dict[str, Any]], None], on_state: Callable[[bool, str], None],
                 silence_s: float = SILENCE_S) -> None:
        self._target = target
        self._on_event = on_event
        self._on_state = on_state
        self._silence_s = silence_s
        self._stop = threading.Event()
        self._socket: WebSocket | None = None
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.received = 0
        self.connections = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        sock = self._socket
        if sock is not None:
            sock.close()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        last_detail = None
        while not self._stop.is_set():
            try:
                host, port, tls, path, headers = self._target()
                self._socket = WebSocket(host, port, tls, path, headers, self._silence_s)
            except (OSError, StreamClosed, ValueError) as exc:
                detail = _words(exc)
                if detail != last_detail:
                    self._on_state(False, detail)
                    last_detail = detail
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_FIRST_S
            self.connections += 1
            self.connected.set()
            last_detail = None
            self._on_state(True, "connected")
            try:
                while not self._stop.is_set():
                    text = self._socket.recv()
                    try:
                        event = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(event, dict):
                        self.received += 1
                        self._on_event(event)
            except (OSError, StreamClosed, UnicodeDecodeError) as exc:
                if not self._stop.is_set():
                    last_detail = _words(exc)
                    self._on_state(False, last_detail)
            finally:
                self.connected.clear()
                self._socket.close()
                self._socket = None


def _words(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "the hub stopped answering"
    if isinstance(exc, ConnectionRefusedError):
        return "the hub is not running (connection refused)"
    if isinstance(exc, StreamClosed):
        if exc.code == 1001:
            return "the hub is stopping"
        return str(exc)
    return f"the hub cannot be reached ({exc})"
