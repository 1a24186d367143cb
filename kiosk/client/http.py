"""A blocking client of the hub's API (`/api/v1/`), standard library only: the window, a remote station and the CLI.

Keep-alive connections in a small pool: a call takes an idle one (or opens one), and gives it back when the answer
is read, so any thread may call and the connections stay as few as the calls at the same moment (http.client is not
thread-safe; a connection is never used by two calls at once). A connection the hub closed while idle is opened
again once, before anything was sent on it. Every refusal raises `ApiError` (kiosk.protocol.api) with the
hub's status, code, sentence and field; a hub that cannot be reached raises `HubUnreachable`, which says so in words.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from kiosk.protocol.api import ACTOR_HEADER, API_PREFIX, SESSION_HEADER, ApiError, from_wire

DEFAULT_TIMEOUT_S = 10.0
POOL_SIZE = 4  # idle keep-alive connections kept


class HubUnreachable(ConnectionError):
    """The hub did not answer (not running, wrong address, network down)."""


SESSION_ENDED = ("no_session", "bad_session", "session_expired")  # a session the hub no longer has


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout_s: float = DEFAULT_TIMEOUT_S, actor: str = "") -> None:
        parts = urlsplit(base_url if "://" in base_url else "http://" + base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the hub address must look like http://HOST:PORT, not {base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._token = token
        self._actor = actor  # the CLI on the hub's machine names its user for the audit log ("cli:root")
        self.timeout_s = timeout_s
        self.session_token: str | None = None  # an operator's session (kiosk.client.session)
        self.desk_session_token: str | None = None  # staff signed in at the desk (kiosk.client.session.DeskSignIn)
        self.desk_ended = ""  # why the desk's sign-in ended on the hub ("" while it lasts, or nobody signed in)
        self.desk_used_at = 0.0  # time.monotonic() of the last change that carried the desk's sign-in
        self._idle: list[tuple[http.client.HTTPConnection, bool]] = []  # (connection, used before)
        self._pool_lock = threading.Lock()
        self._closed = False

    # --- calls ----------------------------------------------------------------------------------------------------

    def get(self, path: str, kind: Any = Any, **query: Any) -> Any:
        return self.call("GET", path, kind, query=query)

    def post(self, path: str, body: Any = None, kind: Any = Any, session: bool = False) -> Any:
        return self.call("POST", path, kind, body=body, session=session)

    def call(self, method: str, path: str, kind: Any = Any, body: Any = None,
             query: dict[str, Any] | None = None, session: bool = False, upload: bytes | None = None) -> Any:
        """The answer's `data` as `kind`; ApiError for a refusal, HubUnreachable when the hub does not answer.
        `session`: send the operator's session (admin actions). The desk's own calls go without it, so an admin
        session that ended never stops the desk. `upload`: bytes sent as the body instead of JSON (firmware).
        The desk's changes (not its reads) carry the sign-in of the staff member at the desk, if any; when that
        sign-in has ended on the hub, the change goes again as the front desk and `desk_ended` says why."""
        target = self._target(path, query)
        token = self.session_token if session else self.desk_session_token if method != "GET" else None
        if token is not None and not session:
            self.desk_used_at = time.monotonic()
        status, payload = self._exchange(method, target, body, token, upload)
        answer = _decode(payload)
        if status == 401 and token is not None and not session:
            refusal = ApiError.from_body(status, answer)
            if refusal.error in SESSION_ENDED:  # the desk's sign-in ended: the desk goes on as the front desk
                self.desk_session_token = None
                self.desk_ended = refusal.message
                status, payload = self._exchange(method, target, body, None, upload)
                answer = _decode(payload)
        if status >= 400:
            raise ApiError.from_body(status, answer)
        if not isinstance(answer, dict) or "data" not in answer:
            raise ApiError(status, "bad_answer", "the hub's answer is not the API's (is this a kiosk hub?)")
        return from_wire(kind, answer["data"])

    def download(self, path: str, out: Callable[[bytes], None], **query: Any) -> dict[str, str]:
        """A streamed answer (CSV exports): each chunk to `out`; the answer's headers returned."""
        connection, _ = self._take()
        try:
            connection.request("GET", self._target(path, query), headers=self._headers(None, None))
            response = connection.getresponse()
            if response.status >= 400:
                raise ApiError.from_body(response.status, _decode(response.read()))
            while chunk := response.read(256 * 1024):
                out(chunk)
            return dict(response.headers)
        except (OSError, http.client.HTTPException) as exc:
            raise HubUnreachable(self._unreachable(exc)) from None
        finally:
            connection.close()  # a streamed export is long and rare: its connection is not kept

    def _target(self, path: str, query: dict[str, Any] | None) -> str:
        wanted = {k: _query_text(v) for k, v in (query or {}).items() if v is not None}
        return API_PREFIX + path + ("?" + urlencode(wanted) if wanted else "")

    def _headers(self, body: bytes | None, session: str | None, binary: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream" if binary else "application/json"
        if self._actor:
            headers[ACTOR_HEADER] = self._actor
        if session:
            headers[SESSION_HEADER] = session
        return headers

    def _exchange(self, method: str, target: str, body: Any, session: str | None,
                  upload: bytes | None = None) -> tuple[int, bytes]:
        data = upload if upload is not None else None if body is None else json.dumps(body, ensure_ascii=False).encode()
        for attempt in (1, 2):
            connection, reused = self._take()
            try:
                connection.request(method, target, body=data, headers=self._headers(data, session, upload is not None))
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                if attempt == 1 and reused:  # the hub closed an idle keep-alive connection: open a new one
                    continue
                raise HubUnreachable(self._unreachable(exc)) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise HubUnreachable(self._unreachable(exc)) from None
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
            else:
                self._give_back(connection)
            return response.status, payload
        raise AssertionError("unreachable")

    def _unreachable(self, exc: BaseException) -> str:
        if isinstance(exc, socket.timeout):
            return f"the hub at {self.base_url} did not answer within {self.timeout_s:.0f} s"
        if isinstance(exc, ConnectionRefusedError):
            return f"no hub answers at {self.base_url} (is it running?)"
        return f"the hub at {self.base_url} cannot be reached: {exc}"

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._pool_lock:
            if self._idle:
                return self._idle.pop()[0], True
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return kind(self._host, self._port, timeout=self.timeout_s), False

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        with self._pool_lock:
            if not self._closed and len(self._idle) < POOL_SIZE:
                self._idle.append((connection, True))
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection; calls made afterwards open new ones and close them when answered."""
        with self._pool_lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for connection, _ in idle:
            connection.close()

    # --- what every screen asks -----------------------------------------------------------------------------------

    def websocket_target(self) -> tuple[str, int, bool, str, dict[str, str]]:
        """(host, port, tls, path, headers) of the event stream."""
        headers = {"Authorization": f"Bearer {self._token}"}
        return self._host, self._port, self._https, API_PREFIX + "/events", headers


def _decode(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def chunks_to(out: Any) -> Callable[[bytes], None]:
    """`download`'s `out` writing decoded text to a text file."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()

    def write(chunk: bytes) -> None:
        out.write(decoder.decode(chunk))

    return write


__all__ = ["ApiClient", "ApiError", "HubUnreachable", "chunks_to"]

