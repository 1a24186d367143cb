"""Writes the API's OpenAPI document to docs/api/openapi.json: `python -m kiosk.services.api.document`.

The routes are the hub's own declarations (no hub is started); tests/integration/test_api.py fails when the kept
document differs from the one a running hub serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.services.api.admin import AdminApi
from kiosk.services.api.energy import EnergyApi
from kiosk.services.api.framework import Api
from kiosk.services.api.lockers import LockerApi
from kiosk.services.api.sessions import SessionApi
from kiosk.services.api.stalls import StallApi

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "api" / "openapi.json"


def document() -> dict[str, Any]:
    api = Api(_never, _never, 0, 0)
    none: Any = None
    api.add(*SessionApi(none, none, 0, 0, __version__, "").routes())
    api.add(*LockerApi(none, none, _never).routes())
    api.add(*EnergyApi(none, none).routes())
    api.add(*StallApi(none, _never, _never, _never, _never).routes())
    api.add(*AdminApi(none).routes())
    return api.openapi()


def _never(*_args: Any) -> Any:
    raise AssertionError("not called while writing the document")


def main() -> int:
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(json.dumps(document(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
