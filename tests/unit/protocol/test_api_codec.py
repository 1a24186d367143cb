"""The API's codec: core's records to JSON and back as the same type; bad input names its field."""

from __future__ import annotations

import json

import pytest

from kiosk.core.lockers import (
    Assignment,
    LockerCounts,
    LockerState,
    LockerStatistics,
    LockerStatus,
    RosterPreview,
    RosterRow,
)
from kiosk.core.operators import Operator, Role
from kiosk.protocol.api import ApiError, from_wire, record_schema, schema_of, to_wire


def round_trip(kind: object, value: object) -> object:
    return from_wire(kind, json.loads(json.dumps(to_wire(value))))


def test_records_come_back_as_the_same_type() -> None:
    state = LockerState(3, "Bank A", False, "", "AB1234567", "Ada", "Maths", 10.0, 20.0)
    assert round_trip(list[LockerState], [state]) == [state]
    figures = LockerStatistics(0.0, 10.0, LockerCounts(1, 2, 0, 1), 4, [("2026-12-02", 4)], [0] * 24, 60.0)
    assert round_trip(LockerStatistics, figures) == figures
    preview = RosterPreview((RosterRow(2, "AB1234567", "Ada", ""),), (), ((3, "bad"),))
    assert round_trip(RosterPreview, preview) == preview
    assert round_trip(Operator, Operator("root", Role.ADMIN)) == Operator("root", Role.ADMIN)
    assert to_wire(LockerStatus.IN_USE) == "in use"


def test_missing_defaults_and_unknown_keys() -> None:
    assert from_wire(Assignment, {"id": 1, "locker": 2, "member": "m", "assigned_at": 1, "due_at": 2,
                                  "future_field": True}) == Assignment(1, 2, "m", 1.0, 2.0)
    with pytest.raises(ApiError) as missing:
        from_wire(Assignment, {"id": 1}, "body")
    assert (missing.value.status, missing.value.field) == (400, "locker")


@pytest.mark.parametrize(("kind", "data", "field"), [
    (int, True, "answer"), (int, 1.5, "answer"), (float, "1", "answer"), (str, 1, "answer"),
    (list[int], [1, "x"], "answer[1]"), (Role, "boss", "answer"), (LockerCounts, [], "answer"),
    (tuple[str, int], ["a"], "answer"),
])
def test_wrong_types_name_the_field(kind: object, data: object, field: str) -> None:
    with pytest.raises(ApiError) as refused:
        from_wire(kind, data)
    assert refused.value.field == field and refused.value.error == "invalid"


def test_schemas_follow_the_types() -> None:
    schema = record_schema(LockerState)
    assert schema["properties"]["member"] == {"type": ["string", "null"]}
    assert schema["required"] == ["number", "bank", "out_of_order"]
    assert schema_of(list[LockerState]) == {"type": "array", "items": {"$ref": "#/components/schemas/LockerState"}}
    assert schema_of(Role) == {"enum": ["staff", "admin"]}


def test_error_from_any_answer() -> None:
    error = ApiError.from_body(502, "<html>bad gateway</html>")
    assert (error.status, error.error) == (502, "error") and "502" in error.message
    error = ApiError.from_body(400, {"success": False, "error": "invalid", "message": "x is missing", "field": "x"})
    assert error.body() == {"success": False, "error": "invalid", "message": "x is missing", "field": "x"}
