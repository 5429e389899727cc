"""The sealed IVR state: private, authenticated, bound to its call, deterministic (#17)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hotline.twilio.state import EXPIRY_STEP_S, MAX_AGE_S, StateCodec, StateError
from ivr_flows.engine import CallState

CALL = "CA" + "1" * 32
OTHER_CALL = "CA" + "2" * 32
NOW = 1_800_000_000
STATE = CallState(node="postal_code", step=4, failures=1, confirming="50200", after_hours=True,
                  strikes=2, data={"category": "land", "citizen_id": "1101700207030"},
                  call=CALL)  # fmt: skip


def codec(key: str = "secret", now: float = NOW) -> StateCodec:
    return StateCodec(key, clock=lambda: now)


def test_round_trip_keeps_every_field() -> None:
    decoded = codec().decode(codec().encode(STATE), CALL)
    assert decoded == replace(STATE, since=NOW // EXPIRY_STEP_S * EXPIRY_STEP_S)
    assert codec().decode(codec().encode(decoded), CALL) == decoded


def test_the_token_hides_the_data_and_is_url_safe() -> None:
    token = codec().encode(STATE)
    assert "1101700207030" not in token and "land" not in token
    assert all(ch.isalnum() or ch in "-_." for ch in token)


def test_the_same_state_seals_to_the_same_token() -> None:
    """A replayed webhook must answer the same bytes: sealing has no randomness, and the time
    inside is the hour the call's first state was sealed, carried from step to step."""
    first = codec(now=NOW).encode(STATE)
    assert codec(now=NOW + 1).encode(STATE) == first
    carried = codec(now=NOW).decode(first, CALL)
    later = NOW + 5 * EXPIRY_STEP_S
    assert codec(now=later).encode(carried) == codec(now=NOW).encode(carried)
    assert codec().encode(replace(STATE, step=5)) != first


def test_a_state_sealed_for_another_call_is_refused() -> None:
    token = codec().encode(STATE)
    with pytest.raises(StateError):
        codec().decode(token, OTHER_CALL)


@pytest.mark.parametrize("token", ["", "garbage", "A" * 80, "2.", "2." + "A" * 80])
def test_junk_is_refused(token: str) -> None:
    with pytest.raises(StateError):
        codec().decode(token, CALL)


def test_a_token_sealed_with_another_key_or_tampered_is_refused() -> None:
    token = codec().encode(STATE)
    with pytest.raises(StateError):
        codec("other secret").decode(token, CALL)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(StateError):
        codec().decode(flipped, CALL)


def test_tokens_expire_a_day_after_the_hour_the_call_began() -> None:
    token = codec(now=NOW).encode(STATE)
    since = NOW // EXPIRY_STEP_S * EXPIRY_STEP_S
    assert codec(now=since + MAX_AGE_S + EXPIRY_STEP_S).decode(token, CALL).node == "postal_code"
    with pytest.raises(StateError, match="expired"):
        codec(now=since + MAX_AGE_S + EXPIRY_STEP_S + 1).decode(token, CALL)


def v1_token(secret: str, packed: dict[str, object]) -> str:
    """A token as the format before #17 sealed it (AES-GCM, a random nonce, no call)."""
    key = hashlib.sha256(b"hotline.ivr-state:" + secret.encode()).digest()
    nonce = b"\x07" * 12
    raw = json.dumps(packed, ensure_ascii=False, separators=(",", ":")).encode()
    sealed = nonce + AESGCM(key).encrypt(nonce, raw, b"hotline.ivr-state.v1")
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def test_a_token_of_the_previous_format_is_read_during_the_deploy() -> None:
    packed = {"t": NOW - 60, "n": "main_menu", "k": 3, "f": 0, "c": None, "a": 0, "x": 1,
              "d": {"category": "land"}}  # fmt: skip
    state = codec().decode(v1_token("secret", packed), CALL)
    assert (state.node, state.step, state.strikes, state.call) == ("main_menu", 3, 1, CALL)
    assert state.data == {"category": "land"}
    assert codec().encode(state).startswith("2.")  # what comes next is the new format
    with pytest.raises(StateError, match="expired"):
        codec(now=NOW + MAX_AGE_S).decode(v1_token("secret", packed), CALL)
