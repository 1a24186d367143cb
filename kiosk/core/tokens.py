"""Device tokens: random secrets shown once and kept only as hashes.

A token carries 192 random bits, so a single SHA-256 is enough to make the stored hash useless to an attacker; a
memory-hard function (argon2, scrypt) protects low-entropy passwords and would only slow every device login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 24  # 192 bits; the issue asks for at least 128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)
