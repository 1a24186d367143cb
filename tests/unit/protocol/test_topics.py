import pytest

from kiosk.protocol.topics import Channel, TopicError, device_may_use, parse_device_topic

DEVICE = "0b7c6a3e-1111-4c4c-9e9e-123456789abc"


@pytest.mark.parametrize(("topic", "channel"), [
    (f"devices/{DEVICE}/datastream", Channel.DATASTREAM),
    (f"devices/{DEVICE}/status", Channel.STATUS),
    (f"device/{DEVICE}/status", Channel.HEARTBEAT),
    (f"device/{DEVICE}/logs", Channel.LOGS),
])
def test_device_topics(topic: str, channel: Channel) -> None:
    parsed = parse_device_topic(topic)
    assert parsed.device_id == DEVICE and parsed.channel is channel


@pytest.mark.parametrize(("topic", "why"), [
    ("devices/x/weather", "unknown channel"),
    ("devices/x/commands", "to the device"),
    ("device/x/ota", "to the device"),
    ("devices//datastream", "empty device id"),
    ("stalls/x/datastream", "not a device topic"),
    ("devices/x/datastream/extra", "not a device topic"),
])
def test_topics_the_kiosk_does_not_read(topic: str, why: str) -> None:
    with pytest.raises(TopicError, match=why):
        parse_device_topic(topic)


@pytest.mark.parametrize(("topic", "subscribing", "allowed"), [
    (f"devices/{DEVICE}/datastream", False, True),
    (f"device/{DEVICE}/logs", False, True),
    (f"devices/{DEVICE}/commands", True, True),
    (f"devices/{DEVICE}/#", True, True),
    (f"devices/{DEVICE}/", False, False),
    ("devices/other/datastream", False, False),
    ("devices/+/commands", True, False),
    ("devices/#", True, False),
    ("#", True, False),
    ("organizations/library/broadcast", True, True),
    ("organizations/library/broadcast", False, False),
    ("organizations/other/broadcast", True, False),
    (f"devices/{DEVICE}x/datastream", False, False),
])
def test_a_device_uses_only_its_own_topics(topic: str, subscribing: bool, allowed: bool) -> None:
    assert device_may_use(DEVICE, "library", topic, subscribing) is allowed
