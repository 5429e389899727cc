"""The IVR call state, sealed into the step URLs Twilio calls back.

The state travels with the call so a menu step needs no database read. It is encrypted and
authenticated with AES-256-GCM (key derived from SECRET_KEY): it may hold a citizen ID on its way
to the ticket, and URLs end up in Twilio's request logs. The sealing time is inside the sealed
text, and tokens older than a day — longer than any call — are refused. AES-GCM rather than
Fernet: the same guarantees at less cost on every webhook (docs/operations.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ivr_flows.engine import CallState

MAX_AGE_S = 24 * 3600
NONCE_BYTES = 12
ASSOCIATED = b"hotline.ivr-state.v1"


class _NonceSequence:
    """Unique 96-bit GCM nonces without a system call each: a random 64-bit prefix per process
    (renewed after a fork and when the 32-bit counter wraps) followed by a counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._prefix = b""
        self._counter = 0

    def next(self) -> bytes:
        with self._lock:
            if self._pid != os.getpid() or self._counter >= 2**32:
                self._pid, self._prefix, self._counter = os.getpid(), os.urandom(8), 0
            self._counter += 1
            return self._prefix + self._counter.to_bytes(4, "big")


class StateError(ValueError):
    """A state token that is forged, corrupted or too old."""


class StateCodec:
    def __init__(self, secret_key: str, clock: Any = time.time) -> None:
        key = hashlib.sha256(b"hotline.ivr-state:" + secret_key.encode()).digest()
        self._aead = AESGCM(key)
        self._clock = clock
        self._nonces = _NonceSequence()

    def encode(self, state: CallState) -> str:
        packed = {
            "t": int(self._clock()),
            "n": state.node,
            "k": state.step,
            "f": state.failures,
            "c": state.confirming,
            "a": int(state.after_hours),
            "x": state.strikes,
            "d": dict(state.data),
        }
        raw = json.dumps(packed, ensure_ascii=False, separators=(",", ":")).encode()
        nonce = self._nonces.next()
        sealed = nonce + self._aead.encrypt(nonce, raw, ASSOCIATED)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def decode(self, token: str) -> CallState:
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            raw = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], ASSOCIATED)
            packed: dict[str, Any] = json.loads(raw)
            if not 0 <= self._clock() - int(packed["t"]) <= MAX_AGE_S:
                raise StateError("the IVR state has expired")
            return CallState(
                node=str(packed["n"]),
                step=int(packed["k"]),
                failures=int(packed["f"]),
                confirming=packed["c"],
                after_hours=bool(packed["a"]),
                strikes=int(packed["x"]),
                data={str(k): str(v) for k, v in packed["d"].items()},
            )
        except StateError:
            raise
        except (InvalidTag, binascii.Error, UnicodeError, ValueError, KeyError, TypeError) as exc:
            raise StateError("invalid IVR state") from exc
