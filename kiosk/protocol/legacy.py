"""The legacy StallSense contract (DESIGN.md section 5), as pure functions.

StallSense boards (ESP8266, already on walls, cannot be reflashed) connect anonymously with client id = their name N
and publish `N` = `0`/`1` (vacant/occupied, on change and every 10 s), `N/id` = their type and `N/ip` = their IP
address. They subscribe to `N/rst`, where `1` makes them forget their Wi-Fi settings and reboot. The hub accepts them
only while legacy mode is on, and they may use only those four topics.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

from kiosk.protocol.payloads import Reason, Rejected
from kiosk.protocol.topics import TopicError

LEGACY_SUBSCRIPTIONS = ("+", "+/id", "+/ip")
# First topic levels that belong to other contracts: a board with such a name could pose as something else.
RESERVED_NAMES = frozenset({"devices", "device", "kiosk", "organizations"})
MAX_NAME = 64
RESET_PAYLOAD = b"1"


class LegacyField(Enum):
    STATE = ""
    TYPE = "id"
    IP = "ip"


@dataclass(frozen=True)
class LegacyTopic:
    name: str
    field: LegacyField


@dataclass(frozen=True)
class LegacyState:
    occupied: bool


@dataclass(frozen=True)
class LegacyType:
    model: str


@dataclass(frozen=True)
class LegacyAddress:
    ip: str


LegacyMessage = LegacyState | LegacyType | LegacyAddress


def valid_name(name: str | None) -> bool:
    if not name:
        return False
    return (len(name) <= MAX_NAME and name not in RESERVED_NAMES and not any(c in name for c in "/+#")
            and not name.startswith("$") and name.isprintable())


def parse_legacy_topic(topic: str) -> LegacyTopic:
    name, _, rest = topic.partition("/")
    if not valid_name(name):
        raise TopicError(f"not a StallSense topic: {topic!r}")
    try:
        field = LegacyField(rest)
    except ValueError:
        raise TopicError(f"unknown StallSense topic {topic!r}") from None
    return LegacyTopic(name, field)


def reset_topic(name: str) -> str:
    return f"{name}/rst"


def legacy_may_use(client_id: str | None, topic: str, subscribing: bool) -> bool:
    """An anonymous board named `client_id` may publish N, N/id, N/ip and subscribe to N/rst, nothing else."""
    if not valid_name(client_id):
        return False
    if subscribing:
        return topic == reset_topic(client_id)  # type: ignore[arg-type]
    return topic in (client_id, f"{client_id}/id", f"{client_id}/ip")


def parse_legacy(field: LegacyField, payload: bytes) -> LegacyMessage:
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Rejected(Reason.WRONG_TYPE, "not UTF-8 text") from None
    if field is LegacyField.STATE:
        if text not in ("0", "1"):
            raise Rejected(Reason.WRONG_TYPE, f"state must be 0 or 1, got {text[:20]!r}")
        return LegacyState(text == "1")
    if field is LegacyField.TYPE:
        if not text or len(text) > 64 or not text.isprintable():
            raise Rejected(Reason.WRONG_TYPE, f"board type must be a short name, got {text[:20]!r}")
        return LegacyType(text)
    try:
        return LegacyAddress(str(ipaddress.ip_address(text)))
    except ValueError:
        raise Rejected(Reason.WRONG_TYPE, f"not an IP address: {text[:40]!r}") from None
