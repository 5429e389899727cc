"""The IVR call state, sealed into the step URLs Twilio calls back.

The state travels with the call so a menu step needs no database read. It is encrypted and
authenticated (key derived from SECRET_KEY): it may hold a citizen ID on its way to the ticket,
and URLs end up in Twilio's request logs.

Sealing is deterministic, so a replayed webhook (same call, same step, same parameters) answers
the same bytes: AES-256-GCM-SIV, which stays safe when a nonce repeats (it then only shows that
two sealed states are equal), under a fixed nonce. The call's CallSid is part of the
authenticated data and is checked on every step: a state sealed for one call is refused in any
other. The expiry time is fixed per call too: the hour its first state was sealed, carried in
the state (``CallState.since``); tokens more than a day past it are refused.

Tokens of the format before this one (``v1``: AES-GCM, a fresh nonce, not bound to a call) are
still read, so calls in progress during a deploy go on; they expire by themselves within a day,
after which ``decode_v1`` can go (docs/ivr_flows.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV

from ivr_flows.engine import CallState

MAX_AGE_S = 24 * 3600
EXPIRY_STEP_S = 3600  # ``since`` is rounded down to the hour, so replays within it match
PREFIX = "2."  # "." is not base64url: a v2 token can never be mistaken for a v1 one
V1_NONCE_BYTES = 12
V1_ASSOCIATED = b"hotline.ivr-state.v1"
V2_ASSOCIATED = b"hotline.ivr-state.v2:"
V2_NONCE = bytes(12)  # GCM-SIV: a repeated nonce reveals only that two states are equal


class StateError(ValueError):
    """A state token that is forged, corrupted, too old or made for another call."""


class StateCodec:
    def __init__(self, secret_key: str, clock: Any = time.time) -> None:
        key = hashlib.sha256(b"hotline.ivr-state:" + secret_key.encode()).digest()
        self._siv = AESGCMSIV(key)
        self._v1 = AESGCM(key)
        self._clock = clock

    def encode(self, state: CallState) -> str:
        since = state.since or int(self._clock()) // EXPIRY_STEP_S * EXPIRY_STEP_S
        packed = {
            "t": since,
            "n": state.node,
            "k": state.step,
            "f": state.failures,
            "c": state.confirming,
            "a": int(state.after_hours),
            "x": state.strikes,
            "d": dict(state.data),
        }
        raw = json.dumps(packed, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = self._siv.encrypt(V2_NONCE, raw, V2_ASSOCIATED + state.call.encode())
        return PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def decode(self, token: str, call_sid: str) -> CallState:
        """The state sealed in ``token``, if it was sealed for ``call_sid`` and is fresh."""
        try:
            if token.startswith(PREFIX):
                sealed = _unbase64(token[len(PREFIX) :])
                associated = V2_ASSOCIATED + call_sid.encode()
                packed: dict[str, Any] = json.loads(self._siv.decrypt(V2_NONCE, sealed, associated))
                limit = MAX_AGE_S + EXPIRY_STEP_S
            else:
                packed = self.decode_v1(token)
                limit = MAX_AGE_S
            since = int(packed["t"])
            if not 0 <= self._clock() - since <= limit:
                raise StateError("the IVR state has expired")
            return CallState(
                node=str(packed["n"]),
                step=int(packed["k"]),
                failures=int(packed["f"]),
                confirming=packed["c"],
                after_hours=bool(packed["a"]),
                strikes=int(packed["x"]),
                data={str(k): str(v) for k, v in packed["d"].items()},
                call=call_sid,
                since=since,
            )
        except StateError:
            raise
        except (InvalidTag, binascii.Error, UnicodeError, ValueError, KeyError, TypeError) as exc:
            raise StateError("invalid IVR state") from exc

    def decode_v1(self, token: str) -> dict[str, Any]:
        """A token of the previous format (random nonce, no call bound): for the deploy only."""
        sealed = _unbase64(token)
        raw = self._v1.decrypt(sealed[:V1_NONCE_BYTES], sealed[V1_NONCE_BYTES:], V1_ASSOCIATED)
        packed: dict[str, Any] = json.loads(raw)
        return packed


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
