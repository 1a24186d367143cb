"""Serial line framing and parsing: partial lines, noise, non-UTF-8, overlong lines, hellos, sequence gaps."""

import pytest

from kiosk.protocol.payloads import Reason, Rejected
from kiosk.protocol.serial_lines import MAX_LINE_BYTES, Hello, LineFramer, SequenceWatch, SerialReading, parse_line


def test_lines_cut_across_reads_are_put_back_together() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"voltage": 230.5, "cur') == []
    assert framer.feed(b'rent": 0.45, "power": 103.73}\r\n{"volt') == [
        b'{"voltage": 230.5, "current": 0.45, "power": 103.73}']
    assert framer.feed(b'age": 1}\n\n\r\n') == [b'{"voltage": 1}']


def test_an_endless_line_is_dropped_up_to_the_next_newline_and_counted_once() -> None:
    framer = LineFramer()
    for _ in range(10):  # a wrong baud rate: garbage without newlines
        assert framer.feed(b"\xf0\x0f" * 100) == []
    assert framer.overlong == 1
    assert framer.feed(b'tail of it\n{"power": 1}\n') == [b'{"power": 1}']
    assert framer.feed(b"x" * (MAX_LINE_BYTES + 10) + b"\n") == [] and framer.overlong == 2


@pytest.mark.parametrize(("line", "reason"), [
    (b"\xff\xfe\x00garbage", Reason.NOT_JSON),
    (b"V=230.5 I=0.45", Reason.NOT_JSON),
    (b"[1, 2]", Reason.WRONG_TYPE),
    (b'{"hello": "kiosk-energy", "board": "bad id!"}', Reason.WRONG_TYPE),
    (b'{"voltage": 1, "seq": -1}', Reason.WRONG_TYPE),
])
def test_bad_lines_are_rejected_with_their_reason(line: bytes, reason: Reason) -> None:
    with pytest.raises(Rejected) as rejected:
        parse_line(line)
    assert rejected.value.reason is reason


def test_readings_and_hellos() -> None:
    reading = parse_line(b'{"voltage": 230.5, "current": 0.45, "power": 103.73, "port": 2, "seq": 7, "x": 1}\x00')
    assert reading == SerialReading({"voltage": 230.5, "current": 0.45, "power": 103.73, "port": "2"}, 7)
    assert parse_line(b'{"hello": "kiosk-energy", "board": "A1B2C3", "firmware": "1.0.3"}') == \
        Hello("A1B2C3", "1.0.3")


def test_lost_lines_are_counted_from_the_sequence_but_a_restart_is_not_a_loss() -> None:
    watch = SequenceWatch()
    assert [watch.see(s) for s in (1, 2, 5, 6, 0, 1, None)] == [0, 0, 2, 0, 0, 0, 0]
    assert watch.lost == 2
