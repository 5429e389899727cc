from __future__ import annotations

import pytest

from hotline.twilio.state import MAX_AGE_S, StateCodec, StateError
from ivr_flows.engine import CallState

STATE = CallState(node="postal_code", step=4, failures=1, confirming="50200", after_hours=True,
                  strikes=2, data={"category": "land", "citizen_id": "1101700207030"})  # fmt: skip


def test_round_trip_keeps_every_field() -> None:
    codec = StateCodec("secret")
    assert codec.decode(codec.encode(STATE)) == STATE


def test_the_token_hides_the_data_and_is_url_safe() -> None:
    token = StateCodec("secret").encode(STATE)
    assert "1101700207030" not in token and "land" not in token
    assert all(ch.isalnum() or ch in "-_" for ch in token)


@pytest.mark.parametrize("token", ["", "garbage", "A" * 80])
def test_junk_is_refused(token: str) -> None:
    with pytest.raises(StateError):
        StateCodec("secret").decode(token)


def test_a_token_sealed_with_another_key_or_tampered_is_refused() -> None:
    token = StateCodec("secret").encode(STATE)
    with pytest.raises(StateError):
        StateCodec("other secret").decode(token)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(StateError):
        StateCodec("secret").decode(flipped)


def test_tokens_expire_after_a_day() -> None:
    now = [1_000_000.0]
    codec = StateCodec("secret", clock=lambda: now[0])
    token = codec.encode(STATE)
    now[0] += MAX_AGE_S - 1
    assert codec.decode(token).node == "postal_code"
    now[0] += 2
    with pytest.raises(StateError, match="expired"):
        codec.decode(token)
