"""MQTT topic grammar of the device contracts (DESIGN.md section 5) as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Families a device publishes on; the kiosk publishes commands and OTA orders to devices.
DEVICE_PREFIXES = ("devices", "device")
INGEST_CHANNELS = {
    ("devices", "datastream"),
    ("devices", "status"),
    ("device", "status"),
    ("device", "logs"),
    ("devices", "ack"),
    ("device", "ack"),
    ("device", "progress"),
}
TO_DEVICE_CHANNELS = {("devices", "commands"), ("device", "ota")}
INGEST_SUBSCRIPTIONS = ("devices/+/+", "device/+/+")
STATE_PREFIX = "kiosk/state"
CONTROL_REVOKE = "kiosk/control/revoke"


class Channel(Enum):
    DATASTREAM = "datastream"
    STATUS = "status"
    HEARTBEAT = "heartbeat"
    LOGS = "logs"
    ACK = "ack"  # a device's answer to a command (docs/protocol.md)
    PROGRESS = "progress"  # an ESP32's firmware update progress


@dataclass(frozen=True)
class DeviceTopic:
    device_id: str
    channel: Channel


class TopicError(ValueError):
    """The topic is not one the kiosk reads; the message says why."""


def parse_device_topic(topic: str) -> DeviceTopic:
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] not in DEVICE_PREFIXES:
        raise TopicError(f"not a device topic: {topic!r}")
    family, device_id, channel = parts
    if not device_id:
        raise TopicError(f"empty device id in {topic!r}")
    if (family, channel) not in INGEST_CHANNELS:
        if (family, channel) in TO_DEVICE_CHANNELS:
            raise TopicError(f"{channel!r} is a topic to the device, not from it")
        raise TopicError(f"unknown channel {channel!r} in {topic!r}")
    if family == "device" and channel == "status":
        return DeviceTopic(device_id, Channel.HEARTBEAT)
    return DeviceTopic(device_id, Channel(channel))


def commands_topic(device_id: str) -> str:
    return f"devices/{device_id}/commands"


def ota_topic(device_id: str) -> str:
    return f"device/{device_id}/ota"


def broadcast_topic(organization: str) -> str:
    return f"organizations/{organization}/broadcast"


def device_may_use(device_id: str, organization: str, topic: str, subscribing: bool) -> bool:
    """Whether a device may publish to (or subscribe to / receive) a topic or topic filter.

    A device owns `devices/{id}/...` and `device/{id}/...`; it may also listen to its organisation's broadcast.
    Wildcards are allowed only below its own id, so `devices/+/commands` is refused.
    """
    for family in DEVICE_PREFIXES:
        own = f"{family}/{device_id}/"
        if topic.startswith(own) and len(topic) > len(own):
            return True
    return subscribing and topic == broadcast_topic(organization)
