"""Routes declared once: what each takes, who may call it, what it answers. The same declarations drive the
aiohttp handlers, the input checks and the OpenAPI document (`openapi()`), so the document cannot drift.

A route's handler runs in the loop's executor (the store's transactions block) and gets a `Call`: the principal
(which station, which operator), the body and the query read into their declared dataclasses, and the path's
parameters. It returns the answer's object (sent as `{"success": true, "data": ...}` through
`kiosk.protocol.api.to_wire`) or raises: `ApiError` as it is; the store's `LockerError`-style refusals
(`ValueError`) as 409/400, `PermissionError` as 403 (audited), `LookupError` as 404.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from aiohttp import web

from kiosk.core.lockers import AlreadyAssigned, LockerError, LockerRace
from kiosk.core.operators import Operator
from kiosk.protocol.api import (
    API_PREFIX,
    API_VERSION,
    ApiError,
    from_wire,
    record_schema,
    records_in,
    schema_of,
    to_wire,
)
from kiosk.protocol.payloads import Rejected, load_json

log = logging.getLogger(__name__)

PUBLIC, STATION, ADMIN = "public", "station", "admin"
DISPLAY = "display"  # also a wall display's token (kind display): read-only, no member data
WRONG_PASSWORD = "sign_in_refused"  # answered late once an address has failed often


@dataclass(frozen=True)
class Principal:
    """Who is calling: a station (this machine's own desk, or a device of kind `station`) and, when an operator
    signed in there, that operator's session."""

    station: str  # "this machine", or the station's device name
    station_id: str | None  # the station's device id (None: this machine)
    operator: Operator  # who acts: the signed-in operator, else the station's front desk (staff)
    session: str | None = None  # the session's id when an operator signed in
    reader: bool = False  # a wall display: may read the stalls and the locker counts, nothing else


@dataclass
class Call:
    principal: Principal | None
    body: Any
    query: Any
    params: dict[str, str]
    remote: str
    token: str = ""  # the station's bearer token (sign-in binds a session to it)
    session_token: str = ""


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below /api/v1, aiohttp syntax: "/lockers/{number:\\d+}/release"
    summary: str
    handler: Callable[[Call], Any]
    access: str = STATION
    body: type | None = None  # a dataclass the JSON body is read into
    query: type | None = None  # a dataclass the query string is read into
    answer: Any = None  # the answer's type (None: no data)
    errors: tuple[tuple[int, str], ...] = ()  # (status, error) beyond the ones every route has
    tag: str = ""
    raw: bool = False  # the handler returns a web.StreamResponse factory (exports), not data
    upload: int = 0  # > 0: the body is binary (a firmware image) of at most this many bytes, handed over as bytes
    description: str = ""


@dataclass
class Refusals:
    """What the API refused, by error code (the hub's health and metrics show it)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, error: str) -> None:
        self.counts[error] = self.counts.get(error, 0) + 1


def refusal_of(exc: BaseException) -> ApiError:
    """The API's answer to an exception raised by the store or a service."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AlreadyAssigned):
        return ApiError(409, "already_assigned", str(exc), extra={"locker": exc.locker})
    if isinstance(exc, LockerRace):
        return ApiError(409, "raced", str(exc))
    if isinstance(exc, LockerError):
        return ApiError(409, "refused", str(exc))
    if isinstance(exc, PermissionError):
        return ApiError(403, "forbidden", str(exc))
    if isinstance(exc, LookupError):
        return ApiError(404, "not_found", str(exc).strip("'\""))
    if isinstance(exc, ValueError):
        return ApiError(400, "invalid", str(exc))
    return ApiError(500, "internal_error", "the hub could not do this; its log says why")


def read_query(kind: type, values: Any) -> Any:
    """The query string as the dataclass `kind`: each field converted from text by its type."""
    hints = get_type_hints(kind)
    data: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        if item.name not in values:
            continue
        text = values[item.name]
        hint = hints[item.name]
        options = [h for h in getattr(hint, "__args__", (hint,)) if h is not type(None)]
        target = options[0] if options else str
        if text == "" and type(None) in getattr(hint, "__args__", ()):
            data[item.name] = None
            continue
        try:
            if target is int:
                data[item.name] = int(text)
            elif target is float:
                data[item.name] = float(text)
                if data[item.name] != data[item.name] or abs(data[item.name]) == float("inf"):
                    raise ValueError
            elif target is bool:
                if text not in ("true", "false", "1", "0"):
                    raise ValueError
                data[item.name] = text in ("true", "1")
            else:
                data[item.name] = text
        except ValueError:
            raise ApiError(400, "invalid", f"{item.name} must be {_kind_words(target)}", item.name) from None
    return from_wire(kind, data, "body")


def checked_text(value: str, name: str, limit: int = 200) -> str:
    """Text from a caller, as the store may keep it: at most `limit` characters, no control characters (tabs
    allowed) and no lone surrogates; ApiError naming the field otherwise."""
    if len(value) > limit:
        raise ApiError(400, "invalid", f"{name} is longer than {limit} characters", name)
    if any(0xD800 <= ord(c) <= 0xDFFF or (ord(c) < 0x20 and c != "\t") for c in value):
        raise ApiError(400, "invalid", f"{name} holds characters that are not text", name)
    return value


def _kind_words(kind: Any) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "text")


class Api:
    """The routes of every resource, mounted on the hub's aiohttp application under /api/v1."""

    def __init__(self, authenticate: Callable[[web.Request, str], Any], audit_refusal: Callable[[Call, str], None],
                 max_body_bytes: int, request_timeout_s: float,
                 slow_down: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._authenticate = authenticate  # (request, access) -> Call fields (principal, token, session token)
        self._slow_down = slow_down  # a wrong password from this address: answered late (kiosk.core.throttle)
        self._audit_refusal = audit_refusal
        self._max_body = max_body_bytes
        self._timeout = request_timeout_s
        self.routes: list[Route] = []
        self.refusals = Refusals()
        self.calls = 0

    def add(self, *routes: Route) -> None:
        self.routes.extend(routes)

    def mount(self, app: web.Application) -> None:
        for route in self.routes:
            app.router.add_route(route.method, API_PREFIX + route.path, self._handler(route))
        app.router.add_get(API_PREFIX + "/openapi.json", self._openapi)

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self.openapi())

    def _handler(self, route: Route) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                call = await self._call(route, request)
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(None, self._run, route, call)
            except ApiError as exc:
                self.refusals.add(exc.error)
                if exc.error == WRONG_PASSWORD and self._slow_down is not None:
                    await self._slow_down(f"addr:{request.remote}")
                return web.json_response(exc.body(), status=exc.status,
                                         headers={"WWW-Authenticate": 'Bearer realm="kiosk"'}
                                         if exc.status == 401 else None)
            self.calls += 1
            if route.raw:
                return await result(request)
            log.debug("API %s %s in %.1f ms", route.method, request.path, (time.perf_counter() - started) * 1000)
            return web.json_response({"success": True, "data": to_wire(result)}, dumps=_dumps)

        handle.__name__ = f"api_{route.method.lower()}_{route.path.strip('/').replace('/', '_')}"
        return handle

    def _run(self, route: Route, call: Call) -> Any:
        try:
            return route.handler(call)
        except Exception as exc:
            refusal = refusal_of(exc)
            if refusal.status == 500:
                log.exception("API %s %s failed inside the hub", route.method, route.path)
            elif refusal.status == 403:
                self._audit_refusal(call, f"{route.method} {route.path}: {refusal.message}")
            raise refusal from None

    async def _call(self, route: Route, request: web.Request) -> Call:
        principal, token, session_token = await self._authenticate(request, route.access)
        call = Call(principal, None, None, dict(request.match_info), request.remote or "?", token, session_token)
        if route.access == ADMIN:
            assert principal is not None
            if principal.session is None:
                raise ApiError(401, "no_session", "this needs an admin signed in: POST /api/v1/sessions first")
            if principal.operator.role.value != "admin":
                self._audit_refusal(call, f"{route.method} {route.path}: {principal.operator.name} is staff")
                raise ApiError(403, "admin_only", f"{principal.operator.name} is a staff account; this needs an "
                                                  "admin")
        if route.query is not None:
            call.query = read_query(route.query, request.query)
        if route.body is not None:
            call.body = from_wire(route.body, await self._json(request), "body")
        elif route.upload:
            call.body = await self._binary(request, route.upload)
        return call

    async def _binary(self, request: web.Request, limit: int) -> bytes:
        """A binary body read in chunks up to `limit` (the server's JSON body limit does not apply to it)."""
        if request.content_length is not None and request.content_length > limit:
            raise web.HTTPRequestEntityTooLarge(limit, request.content_length)
        data = bytearray()

        async def read() -> None:
            async for chunk in request.content.iter_chunked(64 * 1024):
                data.extend(chunk)
                if len(data) > limit:
                    raise web.HTTPRequestEntityTooLarge(limit, len(data))

        try:
            await asyncio.wait_for(read(), self._timeout * 4)
        except asyncio.TimeoutError:
            raise web.HTTPRequestTimeout() from None
        if not data:
            raise ApiError(400, "invalid", "the body must be the file's bytes", "body")
        return bytes(data)

    async def _json(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > self._max_body:
            raise web.HTTPRequestEntityTooLarge(self._max_body, request.content_length)
        try:
            raw = await asyncio.wait_for(request.read(), self._timeout)
        except asyncio.TimeoutError:
            raise web.HTTPRequestTimeout() from None
        if not raw:
            raise ApiError(400, "invalid", "the body must be a JSON object", "body")
        try:
            return load_json(raw)
        except Rejected as exc:
            raise ApiError(400, "invalid", f"the body is not JSON the hub reads: {exc.detail}", "body") from None

    # --- the document ---------------------------------------------------------------------------------------------

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every route (served at /api/v1/openapi.json, kept in docs/api/)."""
        records: dict[str, type] = {}
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            for kind in (route.body, route.query, route.answer):
                if kind is not None:
                    records_in(kind, records)
            paths.setdefault(API_PREFIX + _openapi_path(route.path), {})[route.method.lower()] = _operation(route)
        return {
            "openapi": "3.1.0",
            "info": {"title": "Front Desk Kiosk hub API", "version": str(API_VERSION),
                     "description": "Every screen (the desk window, the wall display, a remote station, the CLI) "
                                    "talks to the hub through this API. docs/api.md explains sign-in, sessions, "
                                    "the event stream and the error shape."},
            "paths": dict(sorted(paths.items())),
            "components": {
                "schemas": {name: record_schema(kind) for name, kind in sorted(records.items())}
                | {"Error": ERROR_SCHEMA},
                "securitySchemes": {
                    "station": {"type": "http", "scheme": "bearer",
                                "description": "A station's device token (kind `station`), or this machine's own "
                                               "station token (secrets/station.token)."},
                    "display": {"type": "http", "scheme": "bearer",
                                "description": "A wall display's device token (kind `display`): the stalls, the "
                                               "locker counts and the event stream, nothing else."},
                    "session": {"type": "apiKey", "in": "header", "name": "X-Kiosk-Session",
                                "description": "An operator's session token from POST /api/v1/sessions, sent "
                                               "with the station's token that opened it."}}},
        }


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["success", "error", "message"],
    "properties": {"success": {"const": False}, "error": {"type": "string", "description": "machine-readable"},
                   "message": {"type": "string", "description": "a sentence naming the field or the reason"},
                   "field": {"type": "string", "description": "the input at fault, when one is"}}}
COMMON_ERRORS = {STATION: ((401, "unauthorized"), (429, "too_many_failures")),
                 DISPLAY: ((401, "unauthorized"), (429, "too_many_failures")),
                 ADMIN: ((401, "no_session"), (403, "admin_only")), PUBLIC: ()}


def _openapi_path(path: str) -> str:
    out = []
    for part in path.split("/"):
        if part.startswith("{") and ":" in part:
            part = part.split(":", 1)[0] + "}"
        out.append(part)
    return "/".join(out)


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": route.summary, "tags": [route.tag] if route.tag else []}
    if route.description:
        operation["description"] = route.description
    if route.access == STATION:
        operation["security"] = [{"station": []}, {"station": [], "session": []}]
    elif route.access == DISPLAY:
        operation["security"] = [{"station": []}, {"display": []}]
    elif route.access == ADMIN:
        operation["security"] = [{"station": [], "session": []}]
    else:
        operation["security"] = []
    parameters = [{"name": part[1:-1].split(":")[0], "in": "path", "required": True,
                   "schema": {"type": "integer" if ":\\d+" in part else "string"}}
                  for part in route.path.split("/") if part.startswith("{")]
    if route.query is not None:
        hints = get_type_hints(route.query)
        parameters += [{"name": f.name, "in": "query", "required": False, "schema": schema_of(hints[f.name])}
                       for f in dataclasses.fields(route.query)]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema_of(
            route.body)}}}
    elif route.upload:
        operation["requestBody"] = {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "contentMediaType": "application/octet-stream",
                       "maxLength": route.upload}}}}
    if route.raw:
        ok: dict[str, Any] = {"description": "CSV, streamed", "content": {"text/csv": {}}}
    else:
        data = schema_of(route.answer) if route.answer is not None else {"type": "null"}
        ok = {"description": "done", "content": {"application/json": {"schema": {
            "type": "object", "required": ["success", "data"],
            "properties": {"success": {"const": True}, "data": data}}}}}
    responses: dict[str, Any] = {"200": ok}
    errors = list(COMMON_ERRORS[route.access]) + list(route.errors)
    if route.body is not None or route.query is not None:
        errors.append((400, "invalid"))
    if route.body is not None or route.upload:
        errors.append((413, "too_large"))
    by_status: dict[int, list[str]] = {}
    for status, code in errors:
        by_status.setdefault(status, []).append(code)
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = {"description": "error: " + ", ".join(dict.fromkeys(codes)),
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation["responses"] = responses
    return operation


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
