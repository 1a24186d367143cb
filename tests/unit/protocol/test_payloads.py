"""Payload parsing from recorded samples in tests/fixtures/payloads (good/ and bad/<channel>-<reason>-...)."""

from pathlib import Path

import pytest

from kiosk.protocol import payloads
from kiosk.protocol.payloads import Reason, Rejected
from kiosk.protocol.topics import Channel

FIXTURES = Path(__file__).parents[2] / "fixtures" / "payloads"
CHANNELS = {"datastream": Channel.DATASTREAM, "status": Channel.STATUS, "heartbeat": Channel.HEARTBEAT,
            "logs": Channel.LOGS}
GOOD = sorted((FIXTURES / "good").iterdir())
BAD = sorted((FIXTURES / "bad").iterdir())


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_good_samples_parse(path: Path) -> None:
    channel = CHANNELS[path.name.split("-")[0]]
    message = payloads.parse(channel, path.read_bytes(), 16384)
    assert message is not None
    assert "secret" not in repr(message)  # a token field never survives parsing


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_samples_are_rejected_with_the_right_reason(path: Path) -> None:
    channel_name, reason, *_ = path.stem.split("-")
    with pytest.raises(Rejected) as caught:
        payloads.parse(CHANNELS[channel_name], path.read_bytes(), 16384)
    assert caught.value.reason is Reason(reason)
    assert caught.value.detail


def test_the_arduino_line_becomes_an_energy_reading() -> None:
    message = payloads.parse(Channel.DATASTREAM, (FIXTURES / "good" / "datastream-energy-arduino.json").read_bytes(),
                             16384)
    assert message == payloads.EnergyReading(None, 230.5, 0.45, 103.73)


def test_telemetry_keeps_value_and_thresholds() -> None:
    message = payloads.parse(Channel.DATASTREAM, (FIXTURES / "good" / "datastream-telemetry.json").read_bytes(),
                             16384)
    assert message == payloads.Telemetry("25.6", 1, False, 20.0, 30.0)


def test_status_metadata() -> None:
    message = payloads.parse(Channel.STATUS, (FIXTURES / "good" / "status-online.json").read_bytes(), 16384)
    assert isinstance(message, payloads.StatusReport)
    assert (message.status, message.battery, message.signal) == ("online", 85.0, -45.0)


def test_oversized_payload_is_rejected_before_parsing() -> None:
    with pytest.raises(Rejected) as caught:
        payloads.parse(Channel.DATASTREAM, b"{" + b" " * 5000 + b"}", 4096)
    assert caught.value.reason is Reason.TOO_LARGE
    assert "5002 bytes" in caught.value.detail


def test_power_may_differ_from_volts_times_amps_within_tolerance() -> None:
    assert payloads.energy_reading({"voltage": 230, "current": 0.5, "power": 120}).power == 120
    with pytest.raises(Rejected):
        payloads.energy_reading({"voltage": 230, "current": 0.5, "power": 140})
