"""The site's Ed25519 signing key for firmware images: made on first start, kept in the data folder (0600).

The kiosk signs the SHA-256 digest of every uploaded image; firmware built for this site carries the public key
(`kiosk firmware public-key`, Admin > Firmware) and refuses an image whose signature does not verify. Back the key up
with the database: a new key means re-flashing every device by cable.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "ota-signing-key.pem"


class SiteKey:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SiteKey:
        path = Path(data_dir) / KEY_FILE
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            private = Ed25519PrivateKey.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".new")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            os.replace(temporary, path)
            return cls(private)
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def sign(self, digest: bytes) -> bytes:
        return self._private.sign(digest)

    @property
    def public_hex(self) -> str:
        """The 32-byte public key as 64 hex digits (what the firmware embeds)."""
        return self._private.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw).hex()


def verify(public_hex: str, digest: bytes, signature: bytes) -> bool:
    """What a device does: does `signature` over `digest` verify with the site's public key?"""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(signature, digest)
    except (InvalidSignature, ValueError):
        return False
    return True
