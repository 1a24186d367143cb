import json

import pytest

from kiosk.protocol.state import StateError, parse_hub_beat, parse_stall_state

GOOD = {"stall": 4, "restroom": "West", "floor": "G", "label": "2", "position": 2, "restroom_position": 1,
        "state": "occupied", "reason": "door closed", "since": 100.0, "updated": 142.5}


def test_a_stall_state_and_a_removed_stall() -> None:
    message = parse_stall_state("kiosk/state/stalls/4", json.dumps(GOOD).encode())
    assert message is not None and (message.stall_id, message.state, message.updated) == (4, "occupied", 142.5)
    assert parse_stall_state("kiosk/state/stalls/4", b"") is None


@pytest.mark.parametrize("payload", [b"{", b"[]", json.dumps({**GOOD, "state": "free"}).encode(),
                                     json.dumps({**GOOD, "stall": 5}).encode(),
                                     json.dumps({k: v for k, v in GOOD.items() if k != "since"}).encode()])
def test_anything_doubtful_is_refused_rather_than_shown(payload: bytes) -> None:
    with pytest.raises(StateError):
        parse_stall_state("kiosk/state/stalls/4", payload)
    with pytest.raises(StateError):
        parse_stall_state("kiosk/state/stalls/x", json.dumps(GOOD).encode())


def test_hub_beat() -> None:
    assert parse_hub_beat(b'{"online": true, "at": 5, "beat_s": 5}').online
    with pytest.raises(StateError):
        parse_hub_beat(b"online")
