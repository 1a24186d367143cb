"""Backup and restore of everything a hub needs to carry on: `kiosk backup DIR`, `kiosk restore DIR`.

A backup is a folder only its owner may enter, holding:

- `kiosk.db`: the database, copied with SQLite's online backup (devices, tokens, lockers, readings, audit...);
- `journal.db`: the broker's journal, copied the same way after the database, so that what was acknowledged and
  not yet stored is kept too;
- `secrets/`: the OTA signing key (`ota-signing-key.pem`: without it a restored hub signs firmware the devices
  refuse), the hub's internal broker password and the admin PIN hash, each 0600 as in the data folder;
- `firmware/`: the uploaded images (their signatures are in the database);
- `config/`: `kiosk.toml` and `runtime.toml` when there are any;
- `MANIFEST.json`: what is there, with a SHA-256 of every file, the schema revision and when it was made.

A restore checks every file against the manifest and copies it into a data folder that has no database yet, with
the same permissions. Secrets are never printed; the manifest holds only their digests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from kiosk.store.db import private_folder

DATABASE = "kiosk.db"
JOURNAL = "journal.db"
SECRETS = ("ota-signing-key.pem", "internal-broker-password", "admin-pin")
FIRMWARE = "firmware"
CONFIG_FILES = ("kiosk.toml", "runtime.toml")
MANIFEST = "MANIFEST.json"
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupReport:
    folder: Path
    files: int
    bytes: int
    secrets: tuple[str, ...]


def backup(engine: Engine, data_dir: Path, config_dir: Path, target: Path, dated: bool = False) -> BackupReport:
    """Write a backup folder at `target` (new or empty; inside an existing non-empty folder, a new dated one).

    `dated`: `target` is a folder of backups (the daily timer's): always a new dated one inside it, also when it is
    new or empty (the first run wrote its backup into the folder itself, and the next ones inside that backup)."""
    if engine.url.get_backend_name() != "sqlite":
        raise BackupError("kiosk backup copies SQLite files; for PostgreSQL use pg_dump for the database and copy "
                          f"the secrets in {data_dir} ({', '.join(SECRETS)}) yourself")
    target = Path(target)
    if target.is_file():
        raise BackupError(f"{target} is a file; give a folder for the backup")
    if dated or (target.is_dir() and any(target.iterdir())):
        if dated:
            private_folder(target)
        target = target / time.strftime(DATED + "%Y%m%d-%H%M%S")
        if target.exists():
            raise BackupError(f"{target} exists; try again in a second")
    private_folder(target)
    files: dict[str, str] = {}
    _sqlite_copy_of_engine(engine, target / DATABASE)
    files[DATABASE] = _digest(target / DATABASE)
    journal = Path(data_dir) / JOURNAL
    if journal.exists():
        _sqlite_copy(journal, target / JOURNAL)
        files[JOURNAL] = _digest(target / JOURNAL)
    data, config = Path(data_dir), Path(config_dir)
    copies = [(data / name, f"secrets/{name}") for name in SECRETS]
    copies += [(image, f"{FIRMWARE}/{image.name}") for image in sorted((data / FIRMWARE).glob("*.bin"))]
    copies += [(config / name, f"config/{name}") for name in CONFIG_FILES]
    for source, name in copies:
        if source.is_file():
            private_folder((target / name).parent)
            _private_copy(source, target / name)
            files[name] = _digest(target / name)
    secrets = [name.removeprefix("secrets/") for name in files if name.startswith("secrets/")]
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    manifest = {"format": FORMAT, "made_at": time.time(), "schema_revision": revision, "files": files}
    _private_write(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    size = sum((target / name).stat().st_size for name in files)
    return BackupReport(target, len(files), size, tuple(secrets))


DATED = "kiosk-backup-"


def prune(folder: Path, keep_days: float, now: float | None = None) -> list[Path]:
    """Remove the dated backups in `folder` (made by `backup` into a folder holding others) older than `keep_days`;
    the newest is always kept, and nothing that is not such a backup (no manifest of ours) is touched."""
    now = time.time() if now is None else now
    made: list[tuple[float, Path]] = []
    for candidate in Path(folder).glob(DATED + "*"):
        try:
            manifest = json.loads((candidate / MANIFEST).read_text(encoding="utf-8"))
            when = float(manifest["made_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or unreadable: left alone
        if candidate.is_dir() and manifest.get("format") == FORMAT:
            made.append((when, candidate))
    made.sort()
    removed = []
    for when, candidate in made[:-1]:  # never the newest
        if now - when > keep_days * 86400:
            shutil.rmtree(candidate)
            removed.append(candidate)
    return removed


def restore(source: Path, data_dir: Path, config_dir: Path) -> BackupReport:
    """Copy a backup into a data folder that has no database yet (the hub must not be running)."""
    source, data_dir = Path(source), Path(data_dir)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} is not a kiosk backup (no {MANIFEST})") from None
    except ValueError as exc:
        raise BackupError(f"{source / MANIFEST} is damaged: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} was written by another version of the kiosk (format {manifest.get('format')})")
    files: dict[str, str] = manifest["files"]
    for name, digest in files.items():
        path = source / name
        if not path.is_file() or _digest(path) != digest:
            raise BackupError(f"{path} is missing or changed since the backup; nothing was restored")
    if (data_dir / DATABASE).exists():
        raise BackupError(f"{data_dir} already has a database; stop the kiosk and move {data_dir} aside, or restore "
                          "into an empty folder with --data-dir")
    private_folder(data_dir)
    for name in files:
        if name.startswith("config/"):
            private_folder(Path(config_dir))
            destination = Path(config_dir) / name.removeprefix("config/")
        else:
            destination = data_dir / name.removeprefix("secrets/")
        private_folder(destination.parent)
        _private_copy(source / name, destination)
    secrets = tuple(name.removeprefix("secrets/") for name in files if name.startswith("secrets/"))
    return BackupReport(data_dir, len(files), sum((source / n).stat().st_size for n in files), secrets)


def _sqlite_copy_of_engine(engine: Engine, target: Path) -> None:
    raw = engine.raw_connection()
    try:
        live = raw.driver_connection
        assert isinstance(live, sqlite3.Connection)
        _backup_into(live, target)
    finally:
        raw.close()


def _sqlite_copy(path: Path, target: Path) -> None:
    live = sqlite3.connect(path, timeout=10)
    try:
        _backup_into(live, target)
    finally:
        live.close()


def _backup_into(live: sqlite3.Connection, target: Path) -> None:
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()


def _private_copy(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as data:
        shutil.copyfileobj(data, out)
    os.chmod(target, 0o600)


def _private_write(target: Path, content: str) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(content)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
