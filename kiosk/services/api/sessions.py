"""Signing in and out through the API, and what a caller may ask about itself and the hub."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.operators import Operator, Role
from kiosk.protocol.answers import HubInfo, SessionOpened
from kiosk.protocol.api import API_VERSION, ApiError, bad_input
from kiosk.services.api.access import DESK_IDLE_S, Sessions
from kiosk.services.api.framework import PUBLIC, WRONG_PASSWORD, Call, Route
from kiosk.store.operators import OperatorDirectory, SignInRefused


@dataclass(frozen=True)
class SignIn:
    name: str
    password: str
    desk: bool = False  # at the desk: any operator, acting as staff under their own name (desk.signin_idle_s)


@dataclass(frozen=True)
class FirstAdmin:
    """The first account of a new installation (only while there is none)."""

    name: str
    password: str


@dataclass(frozen=True)
class Caller:
    station: str
    operator: Operator
    session: str | None


class SessionApi:
    def __init__(self, directory: OperatorDirectory, sessions: Sessions, idle_s: float, max_age_s: float,
                 version: str, hub_id: str, desk_idle_s: float = DESK_IDLE_S) -> None:
        self._directory = directory
        self._sessions = sessions
        self._idle_s = idle_s
        self._desk_idle_s = desk_idle_s
        self._max_age_s = max_age_s
        self._version = version
        self._hub_id = hub_id

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/hub", "Which hub this is, its API version, whether it still needs its first admin",
                  self.hub, access=PUBLIC, answer=HubInfo, tag="sessions"),
            Route("GET", "/whoami", "The station calling, and the operator whose session it sends", self.whoami,
                  answer=Caller, tag="sessions"),
            Route("POST", "/sessions", "Sign an operator in at this station: a session token", self.sign_in,
                  body=SignIn, answer=SessionOpened, tag="sessions", errors=((401, WRONG_PASSWORD),),
                  description="Wrong passwords lock the account after five in a row and are answered late once "
                              "an address has failed often. The session ends after admin.idle_lock_s without a "
                              "call, after max_age_s in any case, on sign-out, and when the hub stops. With "
                              "`desk: true` an operator signs in at the desk: the calls that carry the session act "
                              "as staff under that name (an admin's too: admin actions need a session of their "
                              "own), and it ends after desk.signin_idle_s without a call."),
            Route("DELETE", "/sessions/current", "Sign out: end the session this call sends", self.sign_out,
                  tag="sessions", errors=((400, "no_session"),)),
            Route("POST", "/operators/first-admin", "Make the first admin of a new installation and sign in",
                  self.first_admin, body=FirstAdmin, answer=SessionOpened, tag="sessions",
                  errors=((409, "refused"),)),
        ]

    def hub(self, call: Call) -> HubInfo:
        return HubInfo(API_VERSION, self._version, self._hub_id, self._directory.count() == 0)

    def whoami(self, call: Call) -> Caller:
        assert call.principal is not None
        return Caller(call.principal.station, call.principal.operator, call.principal.session)

    def sign_in(self, call: Call) -> SessionOpened:
        assert call.principal is not None
        body: SignIn = call.body
        if not body.name.strip() or len(body.name) > 40:
            raise bad_input("name", "name must be 1 to 40 characters")
        if not body.password or len(body.password) > 200:
            raise bad_input("password", "password must be 1 to 200 characters")
        try:
            operator = self._directory.sign_in(body.name, body.password)
        except SignInRefused as exc:
            raise ApiError(401, WRONG_PASSWORD, str(exc)) from None
        return self._open(operator, call, body.desk)

    def first_admin(self, call: Call) -> SessionOpened:
        body: FirstAdmin = call.body
        if self._directory.count() != 0:
            raise ApiError(409, "refused", "this hub has its admin already: sign in instead")
        try:
            operator = self._directory.add(body.name.strip(), Role.ADMIN, body.password, None)
        except (PermissionError, ValueError) as exc:
            raise ApiError(409 if isinstance(exc, PermissionError) else 400,
                           "refused" if isinstance(exc, PermissionError) else "invalid", str(exc)) from None
        return self._open(operator, call)

    def _open(self, operator: Operator, call: Call, desk: bool = False) -> SessionOpened:
        assert call.principal is not None
        token, record = self._sessions.open(operator, call.principal.station, call.token, desk)
        return SessionOpened(token, record.id, record.acting, self._desk_idle_s if desk else self._idle_s,
                             self._max_age_s)

    def sign_out(self, call: Call) -> None:
        if not call.session_token or self._sessions.close(call.session_token) is None:
            raise ApiError(400, "no_session", "this call carries no session to end")
        return None
