"""Operators: who is acting, and what their role allows. Pure rules; passwords are hashed with argon2id
(kiosk.core.pin).

Roles: **staff** (the front desk: lockers, stalls view) and **admin** (everything). Every operation that needs a role
checks it where it is performed (`require`), not only by the buttons a screen shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCKOUT_S = 300.0
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,39}$")


class Role(str, Enum):
    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role


class SignInRefused(Exception):
    """Why a sign-in failed, in words for the person at the screen (never which part was wrong)."""


class OperatorError(ValueError):
    """An account that cannot be made or changed; the message says why."""


def require(operator: Operator, role: Role, what: str) -> None:
    """Raise PermissionError unless the operator may do `what` (admins may do everything)."""
    if role is Role.ADMIN and operator.role is not Role.ADMIN:
        raise PermissionError(f"Only an admin may {what}.")


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME.match(name):
        raise OperatorError("A name is 1-40 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit.")
    return name


def check_new_password(password: str, name: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(set(password)) < 4 or name.lower() in password.lower():
        raise OperatorError("That password is too easy to guess (too few different characters, or it contains the "
                            "name).")


@dataclass(frozen=True)
class OperatorInfo:
    name: str
    role: Role
    created_at: float
    disabled: bool
    locked_until: float
    last_login: float | None
