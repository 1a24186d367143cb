"""Crafted JSON is refused with a reason, never raised (issue 13: 4,210 of 100,000 fuzzed messages raised)."""

import pytest

from kiosk.protocol.jsontext import MAX_DEPTH, JsonRefused, loads
from kiosk.protocol.payloads import Reason, Rejected
from kiosk.protocol.serial_lines import parse_line


def nested(depth: int) -> str:
    return '{"value": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused() -> None:
    assert loads(nested(MAX_DEPTH))["value"]
    with pytest.raises(JsonRefused) as caught:
        loads(nested(MAX_DEPTH + 1))
    assert caught.value.reason == "too_large"


def test_brackets_inside_text_do_not_count_as_nesting() -> None:
    text = '{"value": "' + "[{" * 500 + '\\"]"}'
    assert loads(text)["value"].startswith("[{[{")


@pytest.mark.parametrize("digits", [19, 400, 5000])
def test_whole_numbers_too_long_for_a_column_are_refused(digits: int) -> None:
    with pytest.raises(JsonRefused) as caught:
        loads('{"value": ' + "9" * digits + "}")
    assert caught.value.reason == "out_of_range" and str(digits) in caught.value.detail


def test_an_unpaired_surrogate_is_refused_and_a_pair_is_read() -> None:
    assert loads('{"value": "\\ud83d\\ude00"}')["value"] == "\U0001F600"
    for text in ('{"value": "\\ud800"}', '{"a": ["\\uDFFF"]}', '{"\\ud800": 1}'):
        with pytest.raises(JsonRefused) as caught:
            loads(text)
        assert caught.value.reason == "not_json" and "surrogate" in caught.value.detail


def test_a_serial_line_takes_the_same_limits() -> None:
    for line, reason in ((b'{"voltage": "\\ud800"}', Reason.NOT_JSON), (nested(40).encode(), Reason.TOO_LARGE),
                         (b'{"voltage": 1' + b"0" * 5000 + b"}", Reason.OUT_OF_RANGE)):
        with pytest.raises(Rejected) as caught:
            parse_line(line)
        assert caught.value.reason is reason
