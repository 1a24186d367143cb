"""The LAN HTTP server on the service loop: `GET /api/v1/health`, `POST /api/sensor/reading` (DESIGN.md section 5),
`GET /metrics` and `GET /firmware/{sha256}.bin` (OTA images).

Handlers that touch the database run in the loop's default executor, so that a slow disk never stalls the loop (it
also hosts the broker when `broker.process = "thread"`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from kiosk.protocol.payloads import Rejected, load_json

log = logging.getLogger(__name__)


class HttpServer:
    """aiohttp app bound where the config says; `health` returns (healthy, JSON-ready dict)."""

    def __init__(self, bind: str, port: int, health: Callable[[], tuple[bool, dict[str, Any]]],
                 sensor_reading: Callable[[Any], tuple[int, dict[str, Any]]] | None = None,
                 metrics: Callable[[], str] | None = None,
                 firmware: Callable[[str], Path | None] | None = None) -> None:
        self._bind = bind
        self._port = port
        self._health = health
        self._sensor_reading = sensor_reading
        self._metrics = metrics
        self._firmware = firmware  # sha256 -> the image file, None if no such image
        self._runner: web.AppRunner | None = None
        self._failed_once = False
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_get("/api/v1/health", self._get_health)
        if self._sensor_reading is not None:
            app.router.add_post("/api/sensor/reading", self._post_reading)
        if self._metrics is not None:
            app.router.add_get("/metrics", self._get_metrics)
        if self._firmware is not None:
            app.router.add_get("/firmware/{sha256:[0-9a-f]{64}}.bin", self._get_firmware)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._bind, self._port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("HTTP server listening on %s:%s", self._bind, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get_health(self, _request: web.Request) -> web.Response:
        healthy, body = self._health()
        return web.json_response(body, status=200 if healthy else 503)

    async def _post_reading(self, request: web.Request) -> web.Response:
        try:
            body = load_json(await request.read())
        except Rejected as exc:
            return web.json_response({"success": False, "message": f"the body is not JSON the kiosk reads: "
                                                                    f"{exc.detail}", "reason": exc.reason.value},
                                     status=400)
        assert self._sensor_reading is not None
        try:
            status, answer = await asyncio.get_running_loop().run_in_executor(None, self._sensor_reading, body)
        except Exception:
            if not self._failed_once:
                self._failed_once = True
                log.exception("POST /api/sensor/reading failed inside the kiosk")
            return web.json_response({"success": False, "message": "the kiosk could not handle this reading",
                                      "reason": "internal_error"}, status=500)
        return web.json_response(answer, status=status)

    async def _get_metrics(self, _request: web.Request) -> web.Response:
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
            return web.json_response({"success": False, "message": "no such firmware image"}, status=404)
        log.info("firmware %s… downloaded by %s", sha256[:12], request.remote)
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
