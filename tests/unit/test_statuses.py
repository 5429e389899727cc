"""The whole transition table, pair by pair."""

from __future__ import annotations

import itertools

import pytest

from ticketing.errors import IllegalTransitionError
from ticketing.statuses import (
    REASON_REQUIRED,
    STATUS_TEXT,
    TRANSITIONS,
    TicketStatus,
    check_transition,
)

S = TicketStatus
ALLOWED = {
    (S.RECEIVED, S.ACCEPTED), (S.RECEIVED, S.REJECTED), (S.RECEIVED, S.DUPLICATE),
    (S.ACCEPTED, S.REFERRED), (S.ACCEPTED, S.IN_PROGRESS), (S.ACCEPTED, S.RESOLVED),
    (S.ACCEPTED, S.REJECTED), (S.ACCEPTED, S.DUPLICATE),
    (S.REFERRED, S.ACCEPTED), (S.REFERRED, S.IN_PROGRESS), (S.REFERRED, S.RESOLVED),
    (S.REFERRED, S.DUPLICATE),
    (S.IN_PROGRESS, S.REFERRED), (S.IN_PROGRESS, S.RESOLVED),
    (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.REOPENED),
    (S.CLOSED, S.REOPENED),
    (S.REJECTED, S.REOPENED),
    (S.REOPENED, S.ACCEPTED), (S.REOPENED, S.REFERRED), (S.REOPENED, S.IN_PROGRESS),
    (S.REOPENED, S.RESOLVED), (S.REOPENED, S.REJECTED),
}  # fmt: skip
ALL_PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_transition_table(current: TicketStatus, target: TicketStatus) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target, reason="เหตุผล")
    else:
        with pytest.raises(IllegalTransitionError) as info:
            check_transition(current, target, reason="เหตุผล")
        assert info.value.current == current and info.value.target == target
        assert str(current) in str(info.value) and info.value.reason


def test_table_matches_the_documented_workflow() -> None:
    declared = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert declared == ALLOWED


@pytest.mark.parametrize("target", sorted(REASON_REQUIRED))
def test_reason_required(target: TicketStatus) -> None:
    current = next(a for a, b in ALLOWED if b == target)
    with pytest.raises(IllegalTransitionError, match="reason is required"):
        check_transition(current, target, reason="  ")


def test_every_status_has_thai_and_english_text() -> None:
    for status in S:
        text = STATUS_TEXT[status]
        assert text.label_th and text.label_en and text.citizen_th
