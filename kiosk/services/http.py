"""The LAN HTTP server on the service loop: `GET /api/v1/health`, `POST /api/sensor/reading` (DESIGN.md section 5),
`GET /metrics` and `GET /firmware/{sha256}.bin` (OTA images).

Handlers that touch the database run in the loop's default executor, so that a slow disk never stalls the loop (it
also hosts the broker when `broker.process = "thread"`).

What a hostile or broken client meets (docs/security.md): every error answered in the same JSON shape
(`{"success": false, "message": ..., "reason": ...}`); a request must arrive whole (headers and body) within
`request_timeout_s` of its connection opening or of the previous answer, and its body within the same time once
the headers are in; a body larger than the limit is refused from its declared length or as soon as the bytes read
pass it, and the connection is closed; at most `max_per_address` open connections per address; wrong device tokens
slow down per address (kiosk.core.throttle). The status endpoints (`/metrics`, `/api/v1/health`) can require a
bearer token or live on their own address. Every refusal is counted by reason.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kiosk.core.throttle import FailureThrottle
from kiosk.protocol.payloads import Rejected, load_json

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
REASONS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
           408: "timeout", 413: "too_large", 429: "too_many_failures", 500: "internal_error", 503: "unavailable"}
MESSAGES = {404: "there is nothing at this address", 405: "this address does not take that method",
            413: "the request body is larger than the kiosk accepts", 408: "the request did not arrive in time"}
STATUS_PATHS = ("/metrics", "/api/v1/health")


@dataclass(frozen=True)
class HttpLimits:
    request_timeout_s: float = 10.0  # a request's headers, and then its body, must arrive within this
    max_per_address: int = 20  # open connections per client address
    max_body_bytes: int = MAX_BODY_BYTES
    status_token: str = ""  # when set, /metrics and /api/v1/health need "Authorization: Bearer <token>"
    status_bind: str = ""  # "host:port": serve /metrics and /api/v1/health there instead of the main port
    free_failures: int = 10
    max_delay_s: float = 30.0


class HttpRefusals:
    """Refused requests by reason (thread-safe: the hub's handlers run in the executor)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self._counts[reason] += count

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class _Connection:
    __slots__ = ("address", "deadline", "transport")

    def __init__(self, address: str, transport: asyncio.BaseTransport, deadline: float | None) -> None:
        self.address = address
        self.transport = transport
        self.deadline = deadline


class ConnectionGuard:
    """Open connections by address and the time each may still take to deliver its request."""

    def __init__(self, limits: HttpLimits, refusals: HttpRefusals) -> None:
        self._limits = limits
        self._refusals = refusals
        self._by_transport: dict[int, _Connection] = {}
        self._per_address: Counter[str] = Counter()
        self._watch: asyncio.Task[None] | None = None

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if self._per_address[address] >= self._limits.max_per_address:
            self._refusals.add("too_many_connections")
            return False
        self._per_address[address] += 1
        deadline = time.monotonic() + self._limits.request_timeout_s
        self._by_transport[id(transport)] = _Connection(address, transport, deadline)
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        connection = self._by_transport.pop(id(transport), None)
        if connection is not None:
            self._per_address[connection.address] -= 1
            if self._per_address[connection.address] <= 0:
                del self._per_address[connection.address]

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        connection = self._by_transport.get(id(transport)) if transport is not None else None
        if connection is not None:
            connection.deadline = None  # the headers are in; the handler times the body itself

    def request_done(self, transport: asyncio.BaseTransport | None) -> None:
        connection = self._by_transport.get(id(transport)) if transport is not None else None
        if connection is not None:
            connection.deadline = time.monotonic() + self._limits.request_timeout_s

    def open_connections(self) -> int:
        return len(self._by_transport)

    def start(self) -> None:
        self._watch = asyncio.ensure_future(self._watch_deadlines())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None

    async def _watch_deadlines(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for connection in list(self._by_transport.values()):
                if connection.deadline is not None and now > connection.deadline:
                    connection.deadline = None
                    self._refusals.add("timeout")
                    log.debug("HTTP connection from %s sent no whole request in %.0f s: closed", connection.address,
                              self._limits.request_timeout_s)
                    connection.transport.abort()  # type: ignore[attr-defined]


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's request handler behind the guard: refused connections never reach it."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._admitted = False
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if not self._guard.admit(transport):
            transport.abort()  # type: ignore[attr-defined]
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            assert self._transport is not None
            self._guard.release(self._transport)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()


GUARD = web.AppKey("guard", ConnectionGuard)
REFUSAL = web.ResponseKey("refusal_reason", str)  # the reason a refused request is counted under


def error(status: int, message: str, reason: str | None = None, **headers: str) -> web.Response:
    """The one error shape (kiosk.protocol.api.ApiError): `error` is machine-readable; `reason` is the same code,
    kept for the devices' POST /api/sensor/reading (its original contract)."""
    code = reason or REASONS.get(status, "error")
    return web.json_response({"success": False, "error": code, "message": message, "reason": code},
                             status=status, headers=headers or None)


class HttpServer:
    """aiohttp app bound where the config says; `health` returns (healthy, JSON-ready dict)."""

    def __init__(self, bind: str, port: int, health: Callable[[], tuple[bool, dict[str, Any]]],
                 sensor_reading: Callable[[Any, str], tuple[int, dict[str, Any]]] | None = None,
                 metrics: Callable[[], str] | None = None,
                 firmware: Callable[[str], Path | None] | None = None,
                 limits: HttpLimits = HttpLimits(), refusals: HttpRefusals | None = None,
                 mount: Callable[[web.Application], None] | None = None) -> None:
        self._bind = bind
        self._port = port
        self._health = health
        self._sensor_reading = sensor_reading
        self._metrics = metrics
        self._firmware = firmware  # sha256 -> the image file, None if no such image
        self.mount = mount  # adds the screens' API (kiosk.services.api) to the main application
        self.limits = limits
        self.refusals = refusals if refusals is not None else HttpRefusals()
        self.throttle = FailureThrottle(free=limits.free_failures, max_hold_s=limits.max_delay_s)
        self._runners: list[web.AppRunner] = []
        self._servers: list[asyncio.base_events.Server] = []
        self._guards: list[ConnectionGuard] = []
        self._failed_once = False
        self.port: int | None = None
        self.status_port: int | None = None

    def app(self, status: bool = True, device: bool = True) -> web.Application:
        app = web.Application(client_max_size=self.limits.max_body_bytes, middlewares=[self._errors_as_json])
        if status:
            app.router.add_get("/api/v1/health", self._get_health)
            if self._metrics is not None:
                app.router.add_get("/metrics", self._get_metrics)
        if device:
            if self._sensor_reading is not None:
                app.router.add_post("/api/sensor/reading", self._post_reading)
            if self._firmware is not None:
                app.router.add_get("/firmware/{sha256:[0-9a-f]{64}}.bin", self._get_firmware)
            if self.mount is not None:
                self.mount(app)
        return app

    async def start(self) -> None:
        separate = bool(self.limits.status_bind)
        self.port = await self._serve(self.app(status=not separate), self._bind, self._port)
        log.info("HTTP server listening on %s:%s", self._bind, self.port)
        if separate:
            host, _, port = self.limits.status_bind.rpartition(":")
            self.status_port = await self._serve(self.app(device=False), host or "127.0.0.1", int(port))
            log.info("HTTP status endpoints (/metrics, /api/v1/health) on %s:%s", host, self.status_port)
        else:
            self.status_port = self.port

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        guard = ConnectionGuard(self.limits, self.refusals)
        app[GUARD] = guard
        runner = web.AppRunner(app, access_log=None, lingering_time=1.0)  # a refused body is not read on
        await runner.setup()
        self._runners.append(runner)
        guard.start()
        self._guards.append(guard)
        factory = runner.server
        assert factory is not None
        server = await asyncio.get_running_loop().create_server(
            lambda: _GuardedProtocol(guard, factory()), host, port, reuse_address=True)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1]) if server.sockets else port

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for guard in self._guards:
            await guard.stop()
        for runner in self._runners:
            await runner.cleanup()
        self._servers, self._guards, self._runners = [], [], []

    def open_connections(self) -> int:
        return sum(g.open_connections() for g in self._guards)

    @web.middleware
    async def _errors_as_json(self, request: web.Request,
                              handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        guard = request.app[GUARD]
        guard.request_started(request.transport)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
            response = error(exc.status, MESSAGES.get(exc.status, exc.reason), **headers)
            if exc.status == 413:
                response.force_close()
        finally:
            guard.request_done(request.transport)
        if response.status >= 400:
            reason = response.get(REFUSAL) or REASONS.get(response.status, str(response.status))
            self.refusals.add(reason)
            log.debug("HTTP %s %s from %s: %d %s", request.method, request.path, request.remote, response.status,
                      reason)
        return response

    def _status_allowed(self, request: web.Request) -> web.Response | None:
        token = self.limits.status_token
        if not token:
            return None
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return None
        return error(401, "this needs the status token: Authorization: Bearer <http.status_token>",
                     "status_token", **{"WWW-Authenticate": 'Bearer realm="kiosk status"'})

    async def _get_health(self, request: web.Request) -> web.Response:
        refused = self._status_allowed(request)
        if refused is not None:
            return refused
        healthy, body = self._health()
        return web.json_response(body, status=200 if healthy else 503)

    async def _read_body(self, request: web.Request) -> bytes:
        """The body, refused from its declared length or as soon as the bytes read pass the limit; it must arrive
        within the request timeout."""
        if request.content_length is not None and request.content_length > self.limits.max_body_bytes:
            raise web.HTTPRequestEntityTooLarge(self.limits.max_body_bytes, request.content_length)
        try:
            return await asyncio.wait_for(request.read(), self.limits.request_timeout_s)
        except asyncio.TimeoutError:
            raise web.HTTPRequestTimeout() from None

    async def _post_reading(self, request: web.Request) -> web.Response:
        address = f"addr:{request.remote}"
        if self.throttle.too_busy(address):
            return _refusal(error(429, "too many wrong device tokens from this address; try again later",
                                  "too_many_failures", **{"Retry-After": "30"}), "too_many_failures")
        try:
            body = load_json(await self._read_body(request))
        except Rejected as exc:
            return _refusal(error(400, f"the body is not JSON the kiosk reads: {exc.detail}", exc.reason.value),
                            exc.reason.value)
        assert self._sensor_reading is not None
        try:
            status, answer = await asyncio.get_running_loop().run_in_executor(None, self._sensor_reading, body,
                                                                              request.remote or "?")
        except Exception:
            if not self._failed_once:
                self._failed_once = True
                log.exception("POST /api/sensor/reading failed inside the kiosk")
            return _refusal(error(500, "the kiosk could not handle this reading", "internal_error"), "internal_error")
        if status == 401:
            await answer_late(self.throttle, address)
        if status >= 400 and "error" not in answer:  # the one error shape: `error` beside the seed's `reason`
            answer = {**answer, "error": answer.get("reason", REASONS.get(status, "error"))}
        response = web.json_response(answer, status=status)
        return _refusal(response, answer.get("reason")) if status >= 400 else response

    async def _get_metrics(self, request: web.Request) -> web.Response:
        refused = self._status_allowed(request)
        if refused is not None:
            return refused
        assert self._metrics is not None
        text = await asyncio.get_running_loop().run_in_executor(None, self._metrics)
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Prometheus-Format": "0.0.4"})

    async def _get_firmware(self, request: web.Request) -> web.StreamResponse:
        """An uploaded image, by its SHA-256 (the OTA order's URL); devices check the digest and signature."""
        assert self._firmware is not None
        sha256 = request.match_info["sha256"]
        path = await asyncio.get_running_loop().run_in_executor(None, self._firmware, sha256)
        if path is None or not path.is_file():
            return error(404, "no such firmware image", "no_such_image")
        log.info("firmware %s… downloaded by %s", sha256[:12], request.remote)
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})


async def answer_late(throttle: FailureThrottle, address: str) -> None:
    """A failure from `address` (a wrong token or password): once it has failed often, the answer waits
    (kiosk.core.throttle), without holding anything but this request."""
    delay = throttle.failed(address)
    if delay > 0:
        throttle.waiting(address, +1)
        try:
            await asyncio.sleep(delay)
        finally:
            throttle.waiting(address, -1)


def _refusal(response: web.Response, reason: str | None) -> web.Response:
    """Mark a response with the reason it is counted under."""
    if reason:
        response[REFUSAL] = reason
    return response
