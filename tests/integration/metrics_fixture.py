"""A small call log whose figures were worked out by hand (see tests/integration/test_metrics.py).

Monday 2 Nov 2026, 09:00 in Bangkok (02:00 UTC):
A  answered after 15 s, talk 200 s, survey 5       (repeat caller later: D)
B  hung up in the queue after 3 s: a short abandon
C  hung up in the queue after 40 s
D  same number as A, answered after 30 s, talk 100 s + wrap-up 20 s, survey 3
E  no input, wrong key, hung up in the main menu
F  heard a ticket status (self-service, contained), no caller ID
plus a training call and a call still in progress, which count nowhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.calllog import Call, CallEvent
from ticketing.db import Database, UnitOfWork

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
DAY_START = datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # Bangkok midnight of 2 Nov

Event = tuple[int, str, str | None, str | None, dict[str, Any] | None]


def add_call(
    db: Database,
    sid: str,
    start: datetime,
    events: list[Event],
    *,
    end_after: int | None,
    number: str | None = "+66811111111",
    agent_id: int | None = None,
    training: bool = False,
) -> int:
    with UnitOfWork(db) as uow:
        call = Call(
            call_sid=sid,
            from_number=number,
            started_at=start,
            ended_at=start + timedelta(seconds=end_after) if end_after is not None else None,
            twilio_status="completed" if end_after is not None else "in-progress",
            agent_id=agent_id,
            is_training=training,
        )
        uow.session.add(call)
        uow.session.flush()
        for offset, kind, node, value, data in events:
            uow.session.add(
                CallEvent(call_id=call.id, kind=kind, node=node, value=value,
                          at=start + timedelta(seconds=offset), data=data)
            )  # fmt: skip
        uow.commit()
        return call.id


def queue(wait: int, result: str, at: int = 10) -> list[Event]:
    events: list[Event] = [(at, "ivr_enter", "to_agent", None, None),
                           (at, "enqueue", "to_agent", "agents", None)]  # fmt: skip
    if result == "abandon":
        events.append((at + wait, "abandon", "to_agent", None, {"wait_s": wait}))
    else:
        events.append((at + wait, "connect", "to_agent", None, {"wait_s": wait}))
    return events


def load(db: Database, agent_id: int | None) -> None:
    a = [(0, "ivr_enter", "main_menu", None, None), (10, "ivr_input", "main_menu", "0", None),
         *queue(15, "connect"), (225, "complete", "to_agent", "agent", {"wait_s": 15}),
         (226, "ivr_enter", "survey", None, None), (230, "ivr_input", "survey", "5", None),
         (230, "survey_answer", "survey", "5", None)]  # fmt: skip
    add_call(db, "CA-a", T0, a, end_after=235, agent_id=agent_id)
    add_call(db, "CA-b", T0 + timedelta(minutes=5), queue(3, "abandon"), end_after=13,
             number="+66822222222")  # fmt: skip
    add_call(db, "CA-c", T0 + timedelta(minutes=10), queue(40, "abandon"), end_after=50,
             number="+66833333333")  # fmt: skip
    d = [*queue(30, "connect"),
         (140, "complete", "to_agent", "agent", {"talk_s": 100, "wrap_s": 20}),
         (141, "ivr_enter", "survey", None, None),
         (145, "survey_answer", "survey", "3", None)]  # fmt: skip
    add_call(db, "CA-d", T0 + timedelta(minutes=40), d, end_after=150)
    e = [(0, "ivr_enter", "main_menu", None, None), (8, "ivr_no_input", "main_menu", None, None),
         (15, "ivr_invalid", "main_menu", "9", None)]  # fmt: skip
    add_call(db, "CA-e", T0 + timedelta(minutes=45), e, end_after=20, number="+66844444444")
    f = [(0, "ivr_enter", "main_menu", None, None), (5, "ivr_input", "main_menu", "2", None),
         (5, "ivr_enter", "status_number", None, None),
         (20, "ivr_input", "status_number", "6900000012", None),
         (21, "status_heard", "lookup_status", "6900000012", None),
         (21, "ivr_enter", "status_result", None, None)]  # fmt: skip
    add_call(db, "CA-f", T0 + timedelta(minutes=60), f, end_after=40, number=None)
    add_call(db, "CA-training", T0, queue(50, "abandon"), end_after=60, training=True)
    add_call(db, "CA-live", T0 + timedelta(minutes=61), queue(5, "connect"), end_after=None)


EXPECTED_TOTALS = {
    "calls": 6, "offered": 4, "answered": 2, "answered_in_sl": 1, "answer_wait_s": 45,
    "max_wait_s": 40, "abandoned_queue": 1, "abandoned_in_sl": 0, "short_abandons": 1,
    "abandoned_ivr": 1, "contained": 1, "handled": 2, "handle_s": 320, "known_callers": 5,
    "repeat_calls": 1, "surveys_offered": 2, "survey_responses": 2, "survey_satisfied": 1,
}  # fmt: skip

EXPECTED_FUNNEL = {
    "main_menu": {"entered": 3, "continued": 1, "no_input": 1, "invalid": 1, "hung_up": 1,
                  "to_agent": 1},
    "survey": {"entered": 2, "continued": 0, "no_input": 0, "invalid": 0, "hung_up": 2,
               "to_agent": 0},
    "status_result": {"entered": 1, "continued": 0, "no_input": 0, "invalid": 0, "hung_up": 1,
                      "to_agent": 0},
    "status_number": {"entered": 1, "continued": 1, "no_input": 0, "invalid": 0, "hung_up": 0,
                      "to_agent": 0},
}  # fmt: skip
