"""JSON from devices, parsed within limits: every crafted input is a refusal with a reason, never an exception.

`json.loads` alone raises `RecursionError` for deep nesting, `ValueError` for integers of more than 4,300 digits,
and returns text holding unpaired UTF-16 surrogates (`"\\ud800"` is valid JSON) that no database can store. Each of
those reached the hub as a traceback or, worse, stopped the store writer.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 16  # objects and arrays nested deeper than this are refused
MAX_INT_DIGITS = 18  # whole numbers fit a 64-bit integer column
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonRefused(ValueError):
    """`reason` is a rejection reason's value (not_json, too_large, out_of_range); `detail` says why in words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def loads(data: bytes | str) -> Any:
    """Parse device JSON, or raise JsonRefused."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused("not_json", f"not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(text)
    try:
        value = json.loads(text, parse_int=_whole_number)
    except JsonRefused:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRefused("not_json", f"not JSON: {exc.msg} at character {exc.pos}") from None
    except (RecursionError, ValueError) as exc:  # a backstop: _check_depth and _whole_number should catch these
        raise JsonRefused("not_json", f"not JSON the kiosk can read: {type(exc).__name__}") from None
    if _SURROGATE_ESCAPE.search(text):
        _check_text(value)
    return value


def _whole_number(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonRefused("out_of_range", f"a whole number of {len(digits.lstrip('-'))} digits; at most "
                                          f"{MAX_INT_DIGITS} are taken")
    return int(digits)


def _check_depth(text: str) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonRefused("too_large", f"objects or arrays nested deeper than {MAX_DEPTH} levels")
        elif token in "]}":
            depth -= 1


def _check_text(value: Any) -> None:
    """Unpaired surrogates come only from \\u escapes: look for them only when the text has such an escape."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise JsonRefused("not_json", f"text with an unpaired UTF-16 surrogate ({value[exc.start]!r}): "
                                          "not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
