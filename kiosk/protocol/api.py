"""The hub's HTTP JSON API (`/api/v1/`): one error shape and one codec, shared by the hub and its clients.

Every refusal is `{"success": false, "error": CODE, "message": SENTENCE}` plus `"field": NAME` when one input is at
fault; `ApiError` carries the same four facts on both sides. The codec turns the frozen dataclasses and named tuples
of `kiosk.core` into JSON objects by field name and back (`to_wire` / `from_wire`), so an answer is rebuilt on the
client as the very type the hub's store returned; unknown keys are ignored (a newer hub may add fields), missing
ones take the field's default.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Callable
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

API_VERSION = 1
API_PREFIX = "/api/v1"
SESSION_HEADER = "X-Kiosk-Session"  # an operator's session token, beside the station's bearer token
ACTOR_HEADER = "X-Kiosk-Actor"  # this machine's CLI names its user ("cli:root"); honoured for the local token only

T = TypeVar("T")


class ApiError(Exception):
    """A refused API call: HTTP status, machine-readable `error`, a sentence for people, the field at fault."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.extra = extra or {}  # facts a client acts on (the locker a member already holds)

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"success": False, "error": self.error, "message": self.message}
        if self.field is not None:
            answer["field"] = self.field
        return answer | {k: v for k, v in self.extra.items() if k not in answer}

    @classmethod
    def from_body(cls, status: int, body: Any) -> ApiError:
        """The error an answer describes (any answer: a proxy's HTML page becomes a plain sentence)."""
        if isinstance(body, dict):
            error = body.get("error") or body.get("reason") or "error"
            message = body.get("message") or f"the hub answered {status}"
            field = body.get("field")
            extra = {k: v for k, v in body.items() if k not in ("success", "error", "message", "field", "reason")}
            return cls(status, str(error), str(message), str(field) if field is not None else None, extra)
        return cls(status, "error", f"the hub answered {status}")

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.error!r}, {self.message!r}, field={self.field!r})"


def bad_input(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", message, field)


# --- the codec ------------------------------------------------------------------------------------------------------


_SIMPLE = (str, int, float, bool, type(None))


def to_wire(value: Any) -> Any:
    """JSON-ready form of `value`: dataclasses and named tuples as objects, enums by value, tuples as lists."""
    kind = type(value)
    if kind in _SIMPLE:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: item if type(item) in _SIMPLE else to_wire(item) for name, item in zip(value._fields, value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [item if type(item) in _SIMPLE else to_wire(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_wire(item) for key, item in value.items()}
    if isinstance(value, (str, int, float)):  # subclasses (a str enum was handled above)
        return value
    raise TypeError(f"{type(value).__name__} has no wire form")


def from_wire(kind: Any, data: Any, where: str = "answer") -> Any:
    """`data` (decoded JSON) as an instance of `kind` (a class or a typing form such as `list[LockerState]`).

    Raises ApiError(400, "invalid", ..., field) naming the first field that does not fit."""
    origin = get_origin(kind)
    if kind is Any:
        return data
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        last: ApiError | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return from_wire(option, data, where)
            except ApiError as exc:
                last = exc
        raise last or bad_input(where, f"{where} is missing")
    if origin in (list, tuple, set, frozenset):
        if not isinstance(data, list):
            raise bad_input(where, f"{where} must be a list")
        args = get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise bad_input(where, f"{where} must have {len(args)} items")
            return tuple(from_wire(arg, item, f"{where}[{i}]") for i, (arg, item) in enumerate(zip(args, data)))
        item_kind = args[0] if args else Any
        fast = _simple(item_kind)
        if fast is not None:  # numbers or text: one converter per item, the field named only on a misfit
            try:
                items = [fast(item) for item in data]
            except _Misfit as exc:
                bad = next(i for i, item in enumerate(data) if not _fits(fast, item))
                raise bad_input(f"{where}[{bad}]", f"{where}[{bad}] {exc}") from None
            return items if origin is list else origin(items)
        items = [from_wire(item_kind, item, f"{where}[{i}]") for i, item in enumerate(data)]
        return items if origin is list else origin(items)
    if origin is dict:
        if not isinstance(data, dict):
            raise bad_input(where, f"{where} must be an object")
        value_kind = get_args(kind)[1] if get_args(kind) else Any
        return {key: from_wire(value_kind, item, f"{where}.{key}") for key, item in data.items()}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            choices = ", ".join(str(member.value) for member in kind)
            raise bad_input(where, f"{where} must be one of {choices}") from None
    if isinstance(kind, type) and (dataclasses.is_dataclass(kind) or hasattr(kind, "_fields")):
        return _record(kind, data, where)
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise bad_input(where, f"{where} must be a number")
        return float(data)
    if kind is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise bad_input(where, f"{where} must be a whole number")
        return data
    if kind in (str, bool):
        if not isinstance(data, kind):
            raise bad_input(where, f"{where} must be {'text' if kind is str else 'true or false'}")
        return data
    if kind is type(None):
        if data is not None:
            raise bad_input(where, f"{where} must be null")
        return None
    raise TypeError(f"no wire form for {kind!r}")


class _Misfit(Exception):
    """A value that does not fit its field; the caller names the field."""


def _simple(kind: Any) -> Callable[[Any], Any] | None:
    """A fast converter for the plain field types (text, numbers, booleans, optionally null), else None."""
    options = get_args(kind) if get_origin(kind) in (Union, types.UnionType) else (kind,)
    nullable = type(None) in options
    rest = [o for o in options if o is not type(None)]
    if len(rest) != 1 or rest[0] not in (str, int, float, bool):
        return None
    base = rest[0]
    words = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[base]

    def convert(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
        elif base is float:
            if type(value) is float or type(value) is int:
                return float(value)
        elif type(value) is base:
            return value
        raise _Misfit(f"must be {words}")

    return convert


def _fits(convert: Callable[[Any], Any], value: Any) -> bool:
    try:
        convert(value)
    except _Misfit:
        return False
    return True


_PLANS: dict[type, tuple[list[tuple[str, Any, Callable[[Any], Any] | None]], frozenset[str]]] = {}


def _plan(kind: type) -> tuple[list[tuple[str, Any, Callable[[Any], Any] | None]], frozenset[str]]:
    plan = _PLANS.get(kind)
    if plan is None:
        hints = get_type_hints(kind)
        if dataclasses.is_dataclass(kind):
            names = [f.name for f in dataclasses.fields(kind) if f.init]
            required = {f.name for f in dataclasses.fields(kind) if f.init and f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING}
        else:
            names = list(kind._fields)  # type: ignore[attr-defined]
            required = set(names) - set(kind._field_defaults)  # type: ignore[attr-defined]
        plan = _PLANS[kind] = ([(name, hints[name], _simple(hints[name])) for name in names], frozenset(required))
    return plan


def _record(kind: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise bad_input(where, f"{where} must be an object")
    fields, required = _plan(kind)
    values: dict[str, Any] = {}
    for name, hint, fast in fields:
        if name in data:
            if fast is not None:
                try:
                    values[name] = fast(data[name])
                except _Misfit as exc:
                    field_name = f"{where}.{name}" if where != "body" else name
                    raise bad_input(field_name, f"{field_name} {exc}") from None
            else:
                values[name] = from_wire(hint, data[name], f"{where}.{name}" if where != "body" else name)
        elif name in required:
            field_name = f"{where}.{name}" if where != "body" else name
            raise bad_input(field_name, f"{field_name} is missing")
    return kind(**values)


def schema_of(kind: Any) -> dict[str, Any]:
    """A JSON Schema (OpenAPI 3.1 flavour) for `kind`, the same reading `from_wire` applies."""
    origin = get_origin(kind)
    if kind is Any:
        return {}
    if origin in (Union, types.UnionType):
        options = [schema_of(option) for option in get_args(kind) if option is not type(None)]
        nullable = type(None) in get_args(kind)
        if len(options) == 1:
            only = dict(options[0])
            if nullable and "type" in only:
                only["type"] = [only["type"], "null"]
            elif nullable:
                return {"anyOf": [only, {"type": "null"}]}
            return only
        return {"anyOf": options + ([{"type": "null"}] if nullable else [])}
    if origin in (list, tuple, set, frozenset):
        args = get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {"type": "array", "prefixItems": [schema_of(a) for a in args], "minItems": len(args),
                    "maxItems": len(args)}
        return {"type": "array", "items": schema_of(args[0]) if args else {}}
    if origin is dict:
        args = get_args(kind)
        return {"type": "object", "additionalProperties": schema_of(args[1]) if args else {}}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"enum": [member.value for member in kind]}
    if isinstance(kind, type) and (dataclasses.is_dataclass(kind) or hasattr(kind, "_fields")):
        return {"$ref": f"#/components/schemas/{kind.__name__}"}
    simple = {float: "number", int: "integer", str: "string", bool: "boolean", type(None): "null"}
    if kind in simple:
        return {"type": simple[kind]}
    raise TypeError(f"no schema for {kind!r}")


def record_schema(kind: type) -> dict[str, Any]:
    """The object schema of a dataclass or named tuple (its `components/schemas` entry)."""
    hints = get_type_hints(kind)
    if dataclasses.is_dataclass(kind):
        names = [f.name for f in dataclasses.fields(kind)]
        required = [f.name for f in dataclasses.fields(kind) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
    else:
        names = list(kind._fields)  # type: ignore[attr-defined]
        required = [n for n in names if n not in kind._field_defaults]  # type: ignore[attr-defined]
    schema: dict[str, Any] = {"type": "object", "properties": {n: schema_of(hints[n]) for n in names}}
    if required:
        schema["required"] = required
    doc = (kind.__doc__ or "").strip()
    if doc and not doc.startswith(kind.__name__ + "("):
        schema["description"] = " ".join(doc.split())
    return schema


def records_in(kind: Any, found: dict[str, type] | None = None) -> dict[str, type]:
    """Every dataclass / named tuple `kind` refers to, by name (for `components/schemas`)."""
    found = {} if found is None else found
    origin = get_origin(kind)
    if origin is not None:
        for arg in get_args(kind):
            if arg is not Ellipsis:
                records_in(arg, found)
    elif isinstance(kind, type) and (dataclasses.is_dataclass(kind) or hasattr(kind, "_fields")):
        if kind.__name__ not in found:
            found[kind.__name__] = kind
            for hint in get_type_hints(kind).values():
                records_in(hint, found)
    return found


__all__ = ["ACTOR_HEADER", "API_PREFIX", "API_VERSION", "SESSION_HEADER", "ApiError", "bad_input", "from_wire",
           "record_schema", "records_in", "schema_of", "to_wire"]
