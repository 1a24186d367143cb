"""A command's life with injected time: queued, sent, acknowledged, done by its effect, failed, expired."""

import pytest

from kiosk.core.commands import CommandState, acknowledged, heartbeat, new_command, sent, tick

T0 = 1_800_000_000.0


def test_a_restart_is_done_when_the_device_comes_back_with_a_smaller_uptime() -> None:
    command = new_command("dev-1", "restart", {"delay_s": 1}, T0, ttl_s=300)
    assert command.state is CommandState.QUEUED and command.payload()["command"] == "restart"
    command = sent(command, T0 + 1, uptime=3600)
    command = acknowledged(command, T0 + 2, ok=True)
    assert command.state is CommandState.ACKNOWLEDGED
    assert heartbeat(command, T0 + 3, uptime=3602).state is CommandState.ACKNOWLEDGED  # not yet restarted
    done = heartbeat(command, T0 + 40, uptime=12)
    assert done.state is CommandState.DONE and done.detail == "restarted (uptime 12 s)"
    assert [state for _, state, _ in done.history] == ["queued", "sent", "acknowledged", "done"]
    assert tick(done, T0 + 10_000).state is CommandState.DONE  # final states stay


def test_a_refusal_fails_and_other_commands_are_done_when_acknowledged() -> None:
    refused = acknowledged(sent(new_command("d", "restart", None, T0), T0, 10), T0 + 1, ok=False,
                           detail="busy flashing")
    assert refused.state is CommandState.FAILED and refused.detail == "busy flashing"
    blink = acknowledged(sent(new_command("d", "blink", {"times": 3}, T0), T0, None), T0 + 1, ok=True)
    assert blink.state is CommandState.DONE


@pytest.mark.parametrize(("steps", "reason"), [
    ([], "the device stayed offline"),
    (["sent"], "no acknowledgement"),
    (["sent", "ack"], "its effect was not seen"),
])
def test_commands_expire_with_a_reason(steps: list[str], reason: str) -> None:
    command = new_command("d", "restart", None, T0, ttl_s=60)
    if "sent" in steps:
        command = sent(command, T0 + 1, uptime=100)
    if "ack" in steps:
        command = acknowledged(command, T0 + 2, ok=True)
    assert tick(command, T0 + 59).state is command.state
    expired = tick(command, T0 + 60)
    assert expired.state is CommandState.EXPIRED and expired.detail == reason


def test_a_device_back_too_late_does_not_get_the_command() -> None:
    late = sent(new_command("d", "restart", None, T0, ttl_s=60), T0 + 61, uptime=5)
    assert late.state is CommandState.EXPIRED


def test_command_names_and_ttl_are_checked() -> None:
    for bad in ("", "rm -rf", "x" * 41):
        with pytest.raises(ValueError, match="a word like restart"):
            new_command("d", bad, None, T0)
    with pytest.raises(ValueError, match="time-to-live"):
        new_command("d", "restart", None, T0, ttl_s=0)
    assert new_command("d", "restart", None, T0).id != new_command("d", "restart", None, T0).id


def test_a_broadcast_collects_answers_until_its_time_to_live() -> None:
    from kiosk.core.commands import broadcast_answer, is_broadcast, new_broadcast

    command = new_broadcast("library", "restart", None, T0, ttl_s=60)
    assert is_broadcast(command) and command.state is CommandState.SENT
    assert command.device_id == "organizations/library"
    command = broadcast_answer(command, T0 + 1, "dev-1", True)
    command = broadcast_answer(command, T0 + 2, "dev-2", False, "flashing")
    assert command.state is CommandState.ACKNOWLEDGED and command.detail == "dev-2: refused, flashing"
    done = tick(command, T0 + 60)
    assert done.state is CommandState.DONE
    assert done.detail == "answered by 2 devices: 1 acknowledged, 1 refused"
    silent = tick(new_broadcast("library", "restart", None, T0, ttl_s=60), T0 + 61)
    assert silent.state is CommandState.EXPIRED and silent.detail == "no device answered"


def test_counts_have_the_right_plural() -> None:
    from kiosk.core.words import plural

    assert [plural(n, "point") for n in (0, 1, 2, 1204)] == ["0 points", "1 point", "2 points", "1,204 points"]
    assert plural(2, "entry", "entries") == "2 entries"


def test_values_are_said_without_python_words() -> None:
    from kiosk.core.words import shown

    assert [shown(v) for v in (True, False, None, "", "Reading room", 0.2, 30)] == \
        ["on", "off", "not set", "not set", '"Reading room"', "0.2", "30"]
