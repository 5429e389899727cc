"""A small call log whose figures were worked out by hand (see tests/integration/test_metrics.py).

Monday 2 Nov 2026, 09:00 in Bangkok (02:00 UTC):
A  answered after 15 s, talk 200 s, survey 5       (repeat caller later: D)
B  hung up in the queue after 3 s: a short abandon
C  hung up in the queue after 40 s
D  same number as A, answered after 30 s, talk 100 s + wrap-up 20 s, survey 3
E  no input, wrong key, hung up in the main menu
F  heard a ticket status (self-service, contained), no caller ID
plus a training call and a call still in progress, which count nowhere.

``load_agents`` adds, the same afternoon, two agents' state logs and two calls taken at the desk
(its docstring has the hand computation).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.calls.desk_models import AgentStateEvent, AgentStatus
from hotline.calls.models import Call, CallEvent
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

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
    wrapped_up_at: datetime | None = None,
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
            wrapped_up_at=wrapped_up_at,
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
    "wrap_s": 20,
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


def local(hour: int, minute: int, second: int = 0) -> datetime:
    """A time on Monday 2 Nov 2026 in Bangkok (UTC+7), as UTC."""
    return datetime(2026, 11, 2, hour - 7, minute, second, tzinfo=UTC)


AGENTS_NOW = local(16, 0)  # when the agent figures are read: Q is still signed in

# (state, local hour, minute, second, call) per agent; each agent starts away.
AGENT_P_LOG = [
    ("available", 13, 50, 0, None),
    ("on_call", 14, 5, 0, "CA-g"), ("wrap_up", 14, 8, 0, "CA-g"), ("available", 14, 9, 0, None),
    ("away", 14, 20, 0, None), ("available", 14, 40, 0, None),
    ("on_call", 14, 50, 0, "CA-h"), ("wrap_up", 14, 54, 0, "CA-h"), ("available", 14, 56, 0, None),
    ("away", 15, 10, 0, None),
]  # fmt: skip
AGENT_Q_LOG = [("available", 14, 0, 0, None), ("away", 14, 30, 0, None),
               ("available", 14, 45, 0, None)]  # fmt: skip


def add_state_log(
    db: Database, user_id: int, log: list[tuple[str, int, int, int, str | None]]
) -> None:
    """An agent's state events, and their current state, as the desk writes them."""
    with UnitOfWork(db) as uow:
        previous = "away"
        for state, hour, minute, second, call_sid in log:
            uow.session.add(AgentStateEvent(user_id=user_id, state=state, previous=previous,
                                            at=local(hour, minute, second), reason="test",
                                            call_sid=call_sid))  # fmt: skip
            previous = state
        last = log[-1]
        uow.session.add(AgentStatus(user_id=user_id, state=last[0], since=local(*last[1:4]),
                                    call_sid=last[4]))  # fmt: skip
        uow.commit()


def load_agents(db: Database, p: int, q: int) -> None:
    """Agents P and Q on Monday 2 Nov 2026 (Bangkok times), read at 16:00.

    P: available 13:50; takes call G 14:05 (talk to 14:08, wrap-up to 14:09); away 14:20–14:40;
       takes call H 14:50 (the agent's leg ends 14:54, wrap-up to 14:56; the caller's side of
       the call log ends 14:54:05); away from 15:10.
       available 15+11+10+4+10 min = 3000 s, on a call 3+4 min = 420 s, wrap-up 1+2 min = 180 s:
       signed in 3600 s, occupancy 600/3600 = 1/6.
       G: talk 180 s (call log) + wrap-up 60 s = 240 s. H: talk 245 s (call log: 14:50:00 →
       14:54:05) + wrap-up 120 s (from the wrap_up state event, 14:54:00, to the form) = 365 s.
       Calls handled 2, handle time 605 s (AHT 302.5 s, of which wrap-up 90 s).
    Q: available 14:00–14:30 and from 14:45 until read at 16:00: 1800 + 4500 = 6300 s, no calls.
    All agents: available 9300 s, on a call 420 s, wrap-up 180 s: occupancy 600/9900.
    Per half-hour (available / on a call / wrap-up): 13:30 600/0/0, 14:00 2760/180/60,
    14:30 1740/240/120, 15:00 2400/0/0, 15:30 1800/0/0.
    """
    add_state_log(db, p, AGENT_P_LOG)
    add_state_log(db, q, AGENT_Q_LOG)
    g = [(0, "ivr_enter", "main_menu", None, None), (30, "ivr_input", "main_menu", "0", None),
         *queue(20, "connect", at=40),
         (240, "complete", "to_agent", "agent", {"wait_s": 20})]  # fmt: skip
    add_call(db, "CA-g", local(14, 4), g, end_after=250, number="+66866666666", agent_id=p,
             wrapped_up_at=local(14, 9))  # fmt: skip
    h = [*queue(10, "connect", at=20), (275, "complete", "to_agent", "agent", {"wait_s": 10})]
    add_call(db, "CA-h", local(14, 49, 30), h, end_after=280, number="+66877777777", agent_id=p,
             wrapped_up_at=local(14, 56))  # fmt: skip


AGENT_BUCKETS = {
    local(13, 30): (600, 0, 0),
    local(14, 0): (2760, 180, 60),
    local(14, 30): (1740, 240, 120),
    local(15, 0): (2400, 0, 0),
    local(15, 30): (1800, 0, 0),
}
