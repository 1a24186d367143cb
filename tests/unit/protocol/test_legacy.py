import pytest

from kiosk.protocol.legacy import (
    LegacyAddress,
    LegacyField,
    LegacyState,
    LegacyTopic,
    LegacyType,
    legacy_may_use,
    parse_legacy,
    parse_legacy_topic,
)
from kiosk.protocol.payloads import Rejected
from kiosk.protocol.topics import TopicError


@pytest.mark.parametrize(("topic", "expected"), [
    ("Stall3", LegacyTopic("Stall3", LegacyField.STATE)),
    ("Stall3/id", LegacyTopic("Stall3", LegacyField.TYPE)),
    ("Stall3/ip", LegacyTopic("Stall3", LegacyField.IP)),
])
def test_the_three_topics_a_board_publishes(topic: str, expected: LegacyTopic) -> None:
    assert parse_legacy_topic(topic) == expected


@pytest.mark.parametrize("topic", ["Stall3/rst", "Stall3/x", "devices", "kiosk/id", "$SYS/id", "a/b/c", ""])
def test_other_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_legacy_topic(topic)


def test_a_board_may_use_only_its_own_four_topics() -> None:
    assert legacy_may_use("Stall3", "Stall3", False)
    assert legacy_may_use("Stall3", "Stall3/id", False) and legacy_may_use("Stall3", "Stall3/ip", False)
    assert legacy_may_use("Stall3", "Stall3/rst", True)
    assert not legacy_may_use("Stall3", "Stall3/rst", False)  # it cannot reset itself or be used to reset others
    assert not legacy_may_use("Stall3", "Stall4", False)
    assert not legacy_may_use("Stall3", "Stall4/rst", True)
    assert not legacy_may_use("Stall3", "+/rst", True) and not legacy_may_use("Stall3", "#", True)
    assert not legacy_may_use("Stall3", "devices/x/datastream", False)
    assert not legacy_may_use("devices", "devices", False)  # a reserved name
    assert not legacy_may_use(None, "None", False)


def test_payloads() -> None:
    assert parse_legacy(LegacyField.STATE, b"1") == LegacyState(True)
    assert parse_legacy(LegacyField.STATE, b" 0\n") == LegacyState(False)
    assert parse_legacy(LegacyField.TYPE, b"com.StallSense.DoorSensor") == LegacyType("com.StallSense.DoorSensor")
    assert parse_legacy(LegacyField.IP, b"192.168.1.40") == LegacyAddress("192.168.1.40")
    for field, payload in [(LegacyField.STATE, b"2"), (LegacyField.STATE, b"\xff"), (LegacyField.IP, b"999.1.1.1"),
                           (LegacyField.TYPE, b"")]:
        with pytest.raises(Rejected):
            parse_legacy(field, payload)
