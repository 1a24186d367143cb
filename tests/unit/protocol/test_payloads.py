"""Payload parsing from recorded samples in tests/fixtures/payloads (good/ and bad/<channel>-<reason>-...)."""

import json
from pathlib import Path

import pytest

from kiosk.protocol import payloads, serial_lines
from kiosk.protocol.payloads import Reason, Rejected
from kiosk.protocol.topics import Channel

FIXTURES = Path(__file__).parents[2] / "fixtures" / "payloads"
CHANNELS = {"datastream": Channel.DATASTREAM, "status": Channel.STATUS, "heartbeat": Channel.HEARTBEAT,
            "logs": Channel.LOGS, "ack": Channel.ACK, "progress": Channel.PROGRESS}
GOOD = sorted((FIXTURES / "good").iterdir())
BAD = sorted((FIXTURES / "bad").iterdir())


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_good_samples_parse(path: Path) -> None:
    """Each sample is taken whole (the `*-firmware-*` ones are what firmware/ builds, byte for byte)."""
    kind = path.name.split("-")[0]
    if kind == "serial":
        line = serial_lines.parse_line(path.read_bytes())
        assert line is not None
        return
    if kind == "datastream":
        messages = payloads.parse_datastream(path.read_bytes(), 16384)
        assert messages and not [m for m in messages if isinstance(m, Rejected)]
        assert "secret" not in repr(messages)  # a token field never survives parsing
        return
    message = payloads.parse(CHANNELS[kind], path.read_bytes(), 16384)
    assert message is not None
    assert "secret" not in repr(message)


def test_the_firmware_samples_say_what_the_firmware_means() -> None:
    good = FIXTURES / "good"
    backlog = payloads.parse_datastream((good / "datastream-firmware-stall-backlog.json").read_bytes(), 16384)
    assert backlog == [payloads.StallReading(None, "open", False, 1795360000.0, "b3-40"),
                       payloads.StallReading(None, "closed", True, 1795360012.5, "b3-41")]
    beat = payloads.parse(Channel.HEARTBEAT, (good / "heartbeat-firmware.json").read_bytes(), 16384)
    assert beat == payloads.Heartbeat(3600, -61, "1.0.0", "10.0.4.17", "A4:CF:12:B3:C4:D5")
    assert payloads.parse(Channel.STATUS, (good / "status-firmware-offline.json").read_bytes(), 16384).status == \
        "offline"
    hello = serial_lines.parse_line((good / "serial-firmware-hello.txt").read_bytes())
    assert hello == serial_lines.Hello("E3A1F0", "1.0.0")
    reading = serial_lines.parse_line((good / "serial-firmware-reading.txt").read_bytes())
    assert isinstance(reading, serial_lines.SerialReading) and reading.seq == 118
    assert reading.body == {"port": "2", "voltage": 230.4, "current": 0.435, "power": 100.22}
    assert serial_lines.parse_line(b"# channel calibrated\r") == serial_lines.Comment("channel calibrated")


def test_what_the_hub_sends_devices_is_the_firmware_s_fixture_byte_for_byte() -> None:
    """firmware/tests parse these same files: the hub's command and OTA order as the hub writes them."""
    import json

    from kiosk.core.commands import Command

    sent = FIXTURES / "to-device"
    command = Command("9f2c4e1a7b3d5c60", "dev", "restart", {"delay_s": 2}, 1795360042.5, 600.0)
    assert json.dumps(command.payload()).encode() == (sent / "command-restart.json").read_bytes()
    sha, signature = "3f5a" + "0" * 60, "9c1e" + "ab" * 62
    order = payloads.ota_order(12, "1.1.0", f"http://10.0.4.2:8080/firmware/{sha}.bin", 912384, sha, signature)
    assert order == (sent / "ota-order.json").read_bytes()


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


@pytest.mark.parametrize(("ts", "expected"), [
    (1795360000, 1795360000.0), (1795360000.5, 1795360000.5), (1795360000123, 1795360000.123),
    ("2026-11-22T15:06:40Z", 1795360000.0), ("2026-11-22T16:06:40+01:00", 1795360000.0),
    ("2026-11-22T15:06:40", 1795360000.0), ("2026-11-22T15:06:40.250Z", 1795360000.25),
])
def test_a_reading_may_carry_its_own_time(ts: object, expected: float) -> None:
    message = payloads.parse(Channel.DATASTREAM, json.dumps({"value": 1, "ts": ts}).encode(), 16384)
    assert message.at == pytest.approx(expected)


@pytest.mark.parametrize("ts", [True, "yesterday", -5, 0, [1]])
def test_a_time_that_is_not_one_is_refused(ts: object) -> None:
    with pytest.raises(Rejected):
        payloads.parse(Channel.DATASTREAM, json.dumps({"value": 1, "ts": ts}).encode(), 16384)


def test_a_backlog_is_an_array_of_readings_each_judged_on_its_own() -> None:
    body = [{"value": 1, "ts": 1795360000, "seq": 7}, {"value": True}, "x",
            {"voltage": 230, "current": 0.1, "power": 23, "ts": 1795360060, "seq": "b-8"}]
    items = payloads.parse_datastream(json.dumps(body).encode(), 16384)
    assert isinstance(items[0], payloads.Telemetry) and (items[0].at, items[0].seq) == (1795360000.0, "7")
    assert isinstance(items[1], Rejected) and "backlog item 2" in items[1].detail
    assert isinstance(items[2], Rejected) and items[2].reason is Reason.WRONG_TYPE
    assert isinstance(items[3], payloads.EnergyReading) and items[3].seq == "b-8"
    for bad in (b"[]", b"[" + b"{},"* 1000 + b"{}]", b"5"):
        with pytest.raises(Rejected):
            payloads.parse_datastream(bad, 1 << 20)
