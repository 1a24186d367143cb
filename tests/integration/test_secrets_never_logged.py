"""Tokens and passwords never reach a log line, at DEBUG, whatever road they travel: device tokens made, rotated,
used and misused (MQTT login, a token inside a payload, HTTP readings), operator passwords set, used and mistyped."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import pytest

from kiosk.core.operators import Operator, Role
from kiosk.store.operators import OperatorDirectory, SignInRefused
from tests.helpers import connect, wait_for

ADMIN = Operator("ada", Role.ADMIN)


def test_no_token_or_password_in_any_log_line(hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    admin = hub.device_admin
    made = admin.create(ADMIN, "Meter A", "energy")
    secrets.append(made.token)
    rotated = admin.rotate(ADMIN, made.info.id)
    secrets.append(rotated)
    port = hub.config["broker.port"]
    refused = connect(port, made.info.id, made.token)  # the old token
    assert refused.rc != 0
    refused.close()
    wrong = "not-the-token-" + "x" * 20
    secrets.append(wrong)
    connect(port, made.info.id, wrong).close()
    device = connect(port, made.info.id, rotated)
    device.publish(f"devices/{made.info.id}/datastream",
                   json.dumps({"voltage": 230.0, "current": 0.1, "power": 23.0, "token": rotated}))
    device.publish(f"devices/{made.info.id}/datastream", json.dumps({"voltage": "x", "token": rotated}))
    wait_for(lambda: (s := hub.ingest.tracker.get(made.info.id)) is not None and s.received >= 1 and s.rejected >= 1)
    device.close()
    http = f"http://127.0.0.1:{hub.http.port}/api/sensor/reading"
    for token in (rotated, wrong):
        request = urllib.request.Request(http, data=json.dumps({"deviceToken": token, "portId": "nope",
                                                                "voltage": 230, "current": 0.1,
                                                                "power": 23}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except urllib.error.HTTPError as answer:
            answer.close()
    directory = OperatorDirectory(hub.engine)
    password, typo = "correct horse battery", "correct horse batterz"
    secrets += [password, typo]
    directory.add("ada", Role.ADMIN, password, None)
    directory.sign_in("ada", password)
    with pytest.raises(SignInRefused):
        directory.sign_in("ada", typo)
    directory.set_password("ada", "another long secret", ADMIN)
    secrets.append("another long secret")
    text = caplog.text
    assert "rejected message" in text and "refused MQTT login" in text  # the log did record these events
    for secret in secrets:
        assert secret not in text, f"a secret reached the log: {secret[:6]}..."
    for entry in hub.registry.audit():  # nor the audit log
        assert not any(secret in f"{entry.detail} {entry.target}" for secret in secrets)
