"""Values sealed for the browser to keep: AES-256-GCM, so without a key they can be neither read
nor changed.

A sealed value is base64url(format byte | 96-bit random nonce | ciphertext and 128-bit tag) of a
JSON object. Its purpose ("session", "login") is authenticated with it as associated data, so a
value sealed for one purpose cannot be passed off as another. The first key seals; every key
opens, so keys rotate without signing anybody out: put the new key first, and drop the old one
once the longest session sealed with it has ended. Random nonces are safe for far more than the
2^32 seals per key that would be the limit (every login and refresh is one).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = b"\x01"
_NONCE_BYTES = 12


class Sealer:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._ciphers = [AESGCM(key) for key in keys]

    def seal(self, purpose: str, data: Mapping[str, Any]) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(data, separators=(",", ":")).encode()
        sealed = _FORMAT + nonce + self._ciphers[0].encrypt(nonce, plain, purpose.encode())
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def unseal(self, purpose: str, value: str) -> dict[str, Any] | None:
        """The object sealed for `purpose`; None for anything else (tampered with, truncated,
        sealed for another purpose or with a key no longer held)."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if raw[:1] != _FORMAT or len(raw) <= 1 + _NONCE_BYTES:
            return None
        nonce, body = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        for cipher in self._ciphers:
            try:
                plain = cipher.decrypt(nonce, body, purpose.encode())
            except InvalidTag:
                continue
            data = json.loads(plain)
            return data if isinstance(data, dict) else None
        return None
