"""The hub service's share file for other users' desk windows (kiosk.services.desk_share) and how a window reads it
(kiosk.client.local_hub.shared_hub)."""

from __future__ import annotations

import builtins
import grp
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kiosk.client.local_hub import HubNotStarted, shared_hub
from kiosk.services.desk_share import DeskShare, ShareFailed


def own_group() -> str:
    return grp.getgrgid(os.getgid()).gr_name


def test_the_share_file_is_for_its_owner_and_the_group_only(tmp_path: Path) -> None:
    share = DeskShare(tmp_path / "desk.json", own_group(), "http://127.0.0.1:8080", "kst_secret")
    share.write()
    info = os.stat(tmp_path / "desk.json")
    assert stat.S_IMODE(info.st_mode) == 0o640 and info.st_gid == os.getgid()
    assert json.loads((tmp_path / "desk.json").read_text()) == {"url": "http://127.0.0.1:8080",
                                                                "token": "kst_secret", "pid": os.getpid()}
    assert [p.name for p in tmp_path.iterdir()] == ["desk.json"], "no temporary file is left beside it"
    hub, token = shared_hub(tmp_path / "desk.json")
    assert (hub.url, hub.pid, hub.started_here, token) == ("http://127.0.0.1:8080", os.getpid(), False, "kst_secret")
    share.remove()
    assert not (tmp_path / "desk.json").exists()


def test_without_a_group_the_share_file_is_the_owners_alone(tmp_path: Path) -> None:
    DeskShare(tmp_path / "desk.json", "", "http://127.0.0.1:8080", "kst_secret").write()
    assert stat.S_IMODE(os.stat(tmp_path / "desk.json").st_mode) == 0o600


def test_a_hub_leaves_a_share_file_another_hub_wrote_since(tmp_path: Path) -> None:
    share = DeskShare(tmp_path / "desk.json", "", "http://127.0.0.1:8080", "kst_secret")
    share.write()
    (tmp_path / "desk.json").write_text(json.dumps({"url": "http://127.0.0.1:8081", "token": "t", "pid": 1}))
    share.remove()
    assert (tmp_path / "desk.json").exists()


@pytest.mark.parametrize(("group", "folder", "words"), [
    ("no-such-group-here", "", "there is no group 'no-such-group-here' on this machine (sudo addgroup --system"),
    ("", "missing", "the folder"),
])
def test_a_share_file_that_cannot_be_written_says_why(tmp_path: Path, group: str, folder: str, words: str) -> None:
    with pytest.raises(ShareFailed, match="desk.share_"):
        try:
            DeskShare(tmp_path / folder / "desk.json", group, "http://127.0.0.1:8080", "t").write()
        except ShareFailed as exc:
            assert words in str(exc)
            raise


def test_a_window_told_of_a_hub_service_that_is_not_running_says_how_to_start_it(tmp_path: Path) -> None:
    with pytest.raises(HubNotStarted, match=r"not running .*sudo systemctl start kiosk-hub"):
        shared_hub(tmp_path / "desk.json")


def test_a_window_of_someone_outside_the_group_names_the_group_to_join(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As root every file is readable, so the refusal the kernel gives another user is played here (the package's
    test, packaging/deb/test.sh, has a real user outside the group)."""
    DeskShare(tmp_path / "desk.json", own_group(), "http://127.0.0.1:8080", "t").write()
    real_open = builtins.open

    def refused(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == str(tmp_path / "desk.json"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refused)
    monkeypatch.setattr("getpass.getuser", lambda: "priya")
    with pytest.raises(HubNotStarted) as refusal:
        shared_hub(tmp_path / "desk.json")
    assert f"only members of the group {own_group()} may open its desk window" in str(refusal.value)
    assert f"sudo adduser priya {own_group()}" in str(refusal.value)


def test_a_share_file_without_a_token_is_not_taken_for_a_hub(tmp_path: Path) -> None:
    (tmp_path / "desk.json").write_text(json.dumps({"url": "http://127.0.0.1:8080"}))
    with pytest.raises(HubNotStarted, match="does not describe a hub"):
        shared_hub(tmp_path / "desk.json")
    (tmp_path / "desk.json").write_text("{half")
    with pytest.raises(HubNotStarted, match="cannot be read"):
        shared_hub(tmp_path / "desk.json")
