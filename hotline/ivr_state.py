"""The IVR call state, sealed into the step URLs Twilio calls back.

The state travels with the call so a menu step needs no database read. It is encrypted and
authenticated (Fernet: AES-CBC + HMAC-SHA256, keyed from SECRET_KEY): it may hold a citizen ID
on its way to the ticket, and URLs end up in Twilio's request logs. Tokens older than a day —
longer than any call — are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ivr_flows.engine import CallState

MAX_AGE_S = 24 * 3600


class StateError(ValueError):
    """A state token that is forged, corrupted or too old."""


class StateCodec:
    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"hotline.ivr-state:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encode(self, state: CallState) -> str:
        packed = {
            "n": state.node,
            "k": state.step,
            "f": state.failures,
            "c": state.confirming,
            "a": int(state.after_hours),
            "x": state.strikes,
            "d": dict(state.data),
        }
        raw = json.dumps(packed, ensure_ascii=False, separators=(",", ":")).encode()
        return self._fernet.encrypt(raw).decode("ascii")

    def decode(self, token: str) -> CallState:
        try:
            raw = self._fernet.decrypt(token.encode("ascii"), ttl=MAX_AGE_S)
            packed: dict[str, Any] = json.loads(raw)
            return CallState(
                node=str(packed["n"]),
                step=int(packed["k"]),
                failures=int(packed["f"]),
                confirming=packed["c"],
                after_hours=bool(packed["a"]),
                strikes=int(packed["x"]),
                data={str(k): str(v) for k, v in packed["d"].items()},
            )
        except (InvalidToken, UnicodeError, ValueError, KeyError, TypeError) as exc:
            raise StateError("invalid or expired IVR state") from exc
