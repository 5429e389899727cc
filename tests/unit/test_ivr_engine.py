"""The IVR engine on small inline flows and on the bundled 1567 flow (pure: no Flask, no DB)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ivr_flows import engine
from ivr_flows.engine import (
    Act,
    ActionResult,
    CallerInput,
    CallState,
    Context,
    Event,
    FlowLoopError,
    Outcome,
    Play,
    Validation,
)
from ivr_flows.loader import load_flow, parse_flow
from ivr_flows.model import BusinessHours, Flow, Prompt

BANGKOK = ZoneInfo("Asia/Bangkok")
OPEN_NOW = datetime(2026, 11, 24, 10, 0, tzinfo=BANGKOK)  # a Tuesday, in business hours
NIGHT = datetime(2026, 11, 24, 22, 0, tzinfo=BANGKOK)

NO_INPUT = Prompt("ไม่ได้ยินค่ะ")
INVALID = Prompt("กดไม่ถูกต้องค่ะ")
TO_AGENT = Prompt("โอนสายค่ะ")
MAIN_INVALID = Prompt("ไม่มีตัวเลือกนี้ค่ะ")

FLOW_YAML = """\
name: test
start: hello
agent: agent
after_hours_agent: closed_agent
give_up: bye
max_failures: 2
hours:
  timezone: Asia/Bangkok
  days: [mon, tue, wed, thu, fri]
  open: "08:30"
  close: "16:30"
prompts:
  no_input: "ไม่ได้ยินค่ะ"
  invalid: "กดไม่ถูกต้องค่ะ"
  to_agent: "โอนสายค่ะ"
nodes:
  hello: {kind: say, say: "สวัสดีค่ะ", next: notice}
  notice: {kind: say, say: "อาจมีการบันทึกเสียงค่ะ", next: office}
  office: {kind: hours, open: main, closed: night}
  main:
    kind: menu
    say: "เมนูหลักค่ะ"
    invalid: "ไม่มีตัวเลือกนี้ค่ะ"
    speech: {ร้องเรียน: "1", ติดตาม: "2", เจ้าหน้าที่: "0"}
    options:
      "1": {next: postal, set: {category: land, channel: phone}}
      "2": ticket
      "3": survey
      "4": intro
  intro: {kind: say, say: "แนะนำบริการค่ะ", next: plain}
  plain: {kind: menu, say: "เมนูย่อยค่ะ", options: {"1": bye}}
  night: {kind: menu, say: "นอกเวลาค่ะ", options: {"1": bye}}
  postal:
    kind: collect
    say: "กดรหัสไปรษณีย์ค่ะ"
    invalid: "ไม่พบรหัสไปรษณีย์ค่ะ"
    validator: postal_code
    store: postal_code
    confirm: "พื้นที่{postal_place} ถูกต้องกด 1 ค่ะ"
    next: cid
  cid:
    kind: collect
    say: "กดเลขประจำตัวประชาชนค่ะ"
    validator: citizen_id
    store: citizen_id
    optional: true
    next: rec
  phone: {kind: collect, say: "กดหมายเลขโทรศัพท์ค่ะ", validator: phone, store: phone, next: bye}
  ticket:
    kind: collect
    say: "กดเลขที่เรื่องค่ะ"
    validator: ticket_number
    store: ticket_query
    next: lookup
  rec: {kind: record, say: "เล่าเรื่องค่ะ", store: recording, next: file}
  file: {kind: action, action: file_ticket, next: filed, results: {no_number: sorry}}
  lookup: {kind: action, action: lookup_status, results: {ok: found, not_found: sorry}}
  filed: {kind: say, say: "เลขที่เรื่อง {ticket_digits} ค่ะ", next: survey}
  found: {kind: say, say: "พบเรื่องแล้วค่ะ", next: bye}
  sorry: {kind: say, say: "ขออภัยค่ะ", next: main}
  agent:
    kind: enqueue
    say: "รอสักครู่ค่ะ"
    queue: agents
    hold: "ลำดับที่ {queue_position}"
    after: survey
  closed_agent: {kind: menu, say: "เจ้าหน้าที่ไม่อยู่ค่ะ", options: {"1": postal}}
  survey: {kind: survey, say: "ให้คะแนน 1 ถึง 5 ค่ะ", invalid: "กด 1 ถึง 5 ค่ะ", store: csat, next: bye}
  bye: {kind: hangup, say: "ขอบคุณค่ะ"}
"""


def postal_code(digits: str) -> Validation:
    if digits == "10200":
        return Validation(True, "10200", {"postal_place": "พระนคร"})
    return Validation(False)


def citizen_id(digits: str) -> Validation:
    if len(digits) == 13 and digits.isdigit():
        return Validation(True, digits, {"citizen_id_spoken": "spoken " + digits})
    return Validation(False)


def phone(digits: str) -> Validation:
    if len(digits) == 10 and digits.startswith("0"):
        return Validation(True, "+66" + digits[1:])
    return Validation(False)


def ticket_number(digits: str) -> Validation:
    return Validation(digits.isdigit(), digits)


VALIDATORS = {
    "postal_code": postal_code,
    "citizen_id": citizen_id,
    "phone": phone,
    "ticket_number": ticket_number,
}


@pytest.fixture(scope="module")
def flow() -> Flow:
    return parse_flow(FLOW_YAML, "test.yaml")


def ctx_at(now: datetime = OPEN_NOW, holidays: frozenset[date] = frozenset()) -> Context:
    return Context(now=now, holidays=holidays, validators=VALIDATORS)


CTX = ctx_at()
CTX_NIGHT = ctx_at(NIGHT)


def keys(digits: str) -> CallerInput:
    return CallerInput(digits=digits)


SILENCE = CallerInput(timed_out=True)


def play(outcome: Outcome | None) -> Play:
    assert isinstance(outcome, Play), outcome
    return outcome


def act(outcome: Outcome) -> Act:
    assert isinstance(outcome, Act), outcome
    return outcome


def entered(*nodes: str) -> tuple[Event, ...]:
    return tuple(Event("ivr_enter", node) for node in nodes)


def enqueued(queue: str = "agents") -> tuple[Event, ...]:
    return (*entered("agent"), Event("enqueue", "agent", queue))


# say chains ----------------------------------------------------------------------------


def test_start_chains_say_nodes_into_the_first_interactive_node(flow: Flow) -> None:
    out = play(engine.start(flow, CTX, {"caller": "+66812345678"}))
    assert out.state == CallState(node="main", data={"caller": "+66812345678"})
    assert out.lead_in == (Prompt("สวัสดีค่ะ"), Prompt("อาจมีการบันทึกเสียงค่ะ"))
    assert out.events == entered("hello", "notice", "office", "main")


def test_say_node_reached_from_a_menu_becomes_lead_in(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="main"), keys("4"), CTX))
    assert out.state == CallState(node="plain", step=1)
    assert out.lead_in == (Prompt("แนะนำบริการค่ะ"),)
    assert out.events == (Event("ivr_input", "main", "4"), *entered("intro", "plain"))


def test_a_loop_of_say_nodes_raises_flow_loop_error() -> None:
    looping = FLOW_YAML.replace(
        'intro: {kind: say, say: "แนะนำบริการค่ะ", next: plain}',
        'intro: {kind: say, say: "แนะนำบริการค่ะ", next: again}\n'
        '  again: {kind: say, say: "อีกครั้งค่ะ", next: intro}',
    )
    flow = parse_flow(looping, "loop.yaml")
    assert flow.node("again").next == "intro"
    with pytest.raises(FlowLoopError, match=r"^loop\.yaml: more than 40 nodes"):
        engine.handle(flow, CallState(node="main"), keys("4"), CTX)


# menu ------------------------------------------------------------------------------------


def test_menu_valid_key_follows_the_option_and_sets_data(flow: Flow) -> None:
    state = CallState(node="main", data={"caller": "x"})
    out = play(engine.handle(flow, state, keys("1"), CTX))
    assert out.state == CallState(
        node="postal", step=1, data={"caller": "x", "category": "land", "channel": "phone"}
    )
    assert out.lead_in == ()
    assert out.events == (Event("ivr_input", "main", "1"), *entered("postal"))


def test_menu_takes_only_the_first_key(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="main"), keys("3 9"), CTX))
    assert out.state.node == "survey"
    assert out.events[0] == Event("ivr_input", "main", "3")


def test_menu_star_repeats_without_counting_a_failure(flow: Flow) -> None:
    state = CallState(node="main", step=4, failures=1, strikes=3, data={"a": "b"})
    out = play(engine.handle(flow, state, keys("*"), CTX))
    assert replace(out, state=replace(out.state, step=4)) == Play(state)
    assert out.state.step > 4


def test_menu_zero_goes_to_the_agent_queue(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="main", failures=1), keys("0"), CTX))
    assert out.state == CallState(node="agent", step=1)
    assert out.lead_in == ()
    assert out.events == (Event("ivr_input", "main", "0"), *enqueued())


def test_menu_wrong_key_uses_the_node_invalid_prompt_then_goes_to_agent(flow: Flow) -> None:
    first = play(engine.handle(flow, CallState(node="main"), keys("9"), CTX))
    assert first == Play(
        CallState(node="main", step=1, failures=1, strikes=1),
        lead_in=(MAIN_INVALID,),
        events=(Event("ivr_invalid", "main", "9"),),
    )
    second = play(engine.handle(flow, first.state, keys("7"), CTX))
    assert second.state == CallState(node="agent", step=2, strikes=2)
    assert second.lead_in == (TO_AGENT,)
    assert second.events == (Event("ivr_invalid", "main", "7"), *enqueued())


def test_menu_wrong_key_falls_back_to_the_flow_invalid_prompt(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="plain"), keys("5"), CTX))
    assert out.lead_in == (INVALID,)
    assert out.events == (Event("ivr_invalid", "plain", "5"),)
    assert out.state == CallState(node="plain", step=1, failures=1, strikes=1)


def test_menu_silence_uses_the_no_input_prompt_then_goes_to_agent(flow: Flow) -> None:
    first = play(engine.handle(flow, CallState(node="main"), SILENCE, CTX))
    assert first == Play(
        CallState(node="main", step=1, failures=1, strikes=1),
        lead_in=(NO_INPUT,),
        events=(Event("ivr_no_input", "main"),),
    )
    second = play(engine.handle(flow, first.state, SILENCE, CTX))
    assert second.state == CallState(node="agent", step=2, strikes=2)
    assert second.lead_in == (TO_AGENT,)
    assert second.events == (Event("ivr_no_input", "main"), *enqueued())


def test_a_wrong_key_then_silence_also_reaches_the_agent(flow: Flow) -> None:
    first = play(engine.handle(flow, CallState(node="main"), keys("9"), CTX))
    second = play(engine.handle(flow, first.state, SILENCE, CTX))
    assert second.state.node == "agent"
    assert second.lead_in == (TO_AGENT,)


def test_a_new_node_starts_with_no_failures(flow: Flow) -> None:
    first = play(engine.handle(flow, CallState(node="main"), keys("9"), CTX))
    moved = play(engine.handle(flow, first.state, keys("2"), CTX))
    assert moved.state == CallState(node="ticket", step=2, failures=0, strikes=1)


@pytest.mark.parametrize(
    ("heard", "node", "first_event"),
    [
        ("ต้องการร้องเรียนค่ะ", "postal", Event("ivr_input", "main", "1")),
        ("ติด ตาม เรื่อง", "ticket", Event("ivr_input", "main", "2")),
        ("ขอคุยกับเจ้าหน้าที่", "agent", Event("ivr_input", "main", "0")),
    ],
)
def test_menu_speech_keywords_map_to_option_keys(
    flow: Flow, heard: str, node: str, first_event: Event
) -> None:
    out = play(engine.handle(flow, CallState(node="main"), CallerInput(speech=heard), CTX))
    assert out.state.node == node
    assert out.events[0] == first_event


def test_menu_speech_uses_the_keyword_said_first(flow: Flow) -> None:
    given = CallerInput(speech="ติดตามเรื่องร้องเรียน")
    out = play(engine.handle(flow, CallState(node="main"), given, CTX))
    assert out.state.node == "ticket"
    assert out.events[0] == Event("ivr_input", "main", "2")


def test_menu_speech_without_a_keyword_is_invalid(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="main"), CallerInput(speech="สวัสดี"), CTX))
    assert out.state == CallState(node="main", step=1, failures=1, strikes=1)
    assert out.events == (Event("ivr_invalid", "main", None),)


def test_keys_win_over_speech(flow: Flow) -> None:
    given = CallerInput(digits="2", speech="ร้องเรียน")
    assert play(engine.handle(flow, CallState(node="main"), given, CTX)).state.node == "ticket"


# business hours and strikes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "holidays", "node"),
    [
        (datetime(2026, 11, 24, 10, 0, tzinfo=BANGKOK), frozenset(), "main"),
        (datetime(2026, 11, 24, 8, 30, tzinfo=BANGKOK), frozenset(), "main"),
        (datetime(2026, 11, 24, 8, 29, tzinfo=BANGKOK), frozenset(), "night"),
        (datetime(2026, 11, 24, 16, 29, 59, tzinfo=BANGKOK), frozenset(), "main"),
        (datetime(2026, 11, 24, 16, 30, tzinfo=BANGKOK), frozenset(), "night"),
        (datetime(2026, 11, 27, 10, 0, tzinfo=BANGKOK), frozenset(), "main"),  # Friday
        (datetime(2026, 11, 28, 10, 0, tzinfo=BANGKOK), frozenset(), "night"),  # Saturday
        (datetime(2026, 11, 29, 10, 0, tzinfo=BANGKOK), frozenset(), "night"),  # Sunday
        (datetime(2026, 11, 24, 10, 0, tzinfo=BANGKOK), frozenset({date(2026, 11, 24)}), "night"),
        (datetime(2026, 11, 24, 10, 0, tzinfo=BANGKOK), frozenset({date(2026, 11, 23)}), "main"),
        # Aware times in other zones are converted to Bangkok time first.
        (datetime(2026, 11, 24, 3, 0, tzinfo=ZoneInfo("UTC")), frozenset(), "main"),
        (datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("UTC")), frozenset(), "night"),
        (datetime(2026, 11, 23, 23, 0, tzinfo=ZoneInfo("UTC")), frozenset(), "night"),
    ],
)
def test_hours_node_routes_by_weekday_time_and_holidays(
    flow: Flow, now: datetime, holidays: frozenset[date], node: str
) -> None:
    out = play(engine.start(flow, ctx_at(now, holidays)))
    assert out.state.node == node
    assert out.state.after_hours is (node == "night")


def test_after_hours_failures_go_to_the_after_hours_agent_without_notice(flow: Flow) -> None:
    state = CallState(node="night", after_hours=True)
    first = play(engine.handle(flow, state, keys("9"), CTX_NIGHT))
    assert first.lead_in == (INVALID,)
    second = play(engine.handle(flow, first.state, keys("9"), CTX_NIGHT))
    assert second == Play(
        CallState(node="closed_agent", step=2, after_hours=True, strikes=2),
        lead_in=(),
        events=(Event("ivr_invalid", "night", "9"), *entered("closed_agent")),
    )


def test_after_hours_zero_goes_to_the_after_hours_agent(flow: Flow) -> None:
    state = CallState(node="night", after_hours=True)
    out = play(engine.handle(flow, state, keys("0"), CTX_NIGHT))
    assert out.state == CallState(node="closed_agent", step=1, after_hours=True)
    assert out.events == (Event("ivr_input", "night", "0"), *entered("closed_agent"))


def test_strikes_over_the_call_end_it_at_give_up(flow: Flow) -> None:
    assert flow.max_total_failures == 6
    state = CallState(node="night", after_hours=True)
    nodes = []
    for _ in range(5):
        state = play(engine.handle(flow, state, SILENCE, CTX_NIGHT)).state
        nodes.append(state.node)
    # The agents' own menu does not send a failing caller round to itself (#17): goodbye.
    assert nodes == ["night", "closed_agent", "closed_agent", "bye", "bye"]
    at_agent = CallState(node="closed_agent", step=2, failures=1, after_hours=True, strikes=2)
    last = play(engine.handle(flow, at_agent, SILENCE, CTX_NIGHT))
    assert last.state == CallState(node="bye", step=3, after_hours=True, strikes=3)
    assert last.lead_in == ()
    assert last.events == (Event("ivr_no_input", "closed_agent"), *entered("bye"))


def test_strikes_count_during_business_hours_too(flow: Flow) -> None:
    state = CallState(node="plain", strikes=5)
    out = play(engine.handle(flow, state, keys("9"), CTX))
    assert out.state == CallState(node="bye", step=1, strikes=6)
    assert out.events == (Event("ivr_invalid", "plain", "9"), *entered("bye"))


# collect ---------------------------------------------------------------------------------


def test_collect_with_confirm_enters_confirming_with_vars_merged(flow: Flow) -> None:
    state = CallState(node="postal", failures=1, data={"category": "land"})
    out = play(engine.handle(flow, state, keys("10200"), CTX))
    assert out == Play(
        CallState(
            node="postal",
            step=1,
            confirming="10200",
            data={"category": "land", "postal_place": "พระนคร"},
        )
    )


def test_confirm_one_accepts_and_stores_the_value(flow: Flow) -> None:
    state = CallState(node="postal", step=1, confirming="10200", data={"postal_place": "พระนคร"})
    out = play(engine.handle(flow, state, keys("1"), CTX))
    assert out.state == CallState(
        node="cid", step=2, data={"postal_place": "พระนคร", "postal_code": "10200"}
    )
    assert out.events == (Event("ivr_input", "postal", "10200"), *entered("cid"))


def test_confirm_two_asks_again(flow: Flow) -> None:
    state = CallState(node="postal", step=1, failures=1, confirming="10200")
    out = play(engine.handle(flow, state, keys("2"), CTX))
    assert out == Play(
        CallState(node="postal", step=2), events=(Event("ivr_input", "postal", "retry"),)
    )


def test_confirm_other_keys_count_as_failures(flow: Flow) -> None:
    state = CallState(node="postal", step=1, confirming="10200")
    first = play(engine.handle(flow, state, keys("5"), CTX))
    assert first == Play(
        CallState(node="postal", step=2, failures=1, strikes=1, confirming="10200"),
        lead_in=(INVALID,),  # not the node's own prompt, which speaks of the value
        events=(Event("ivr_invalid", "postal", "5"),),
    )
    second = play(engine.handle(flow, first.state, keys("9"), CTX))
    assert second.state == CallState(node="agent", step=3, strikes=2)
    assert second.lead_in == (TO_AGENT,)


def test_confirm_silence_asks_for_the_confirmation_again(flow: Flow) -> None:
    state = CallState(node="postal", step=1, confirming="10200")
    out = play(engine.handle(flow, state, SILENCE, CTX))
    assert out == Play(
        CallState(node="postal", step=2, failures=1, strikes=1, confirming="10200"),
        lead_in=(NO_INPUT,),
        events=(Event("ivr_no_input", "postal"),),
    )


def test_confirm_zero_goes_to_the_agent(flow: Flow) -> None:
    state = CallState(node="postal", confirming="10200")
    out = play(engine.handle(flow, state, keys("0"), CTX))
    assert out.state == CallState(node="agent", step=1)
    assert out.events == (Event("ivr_input", "postal", "0"), *enqueued())


def test_collect_invalid_value_uses_the_node_invalid_prompt(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="postal"), keys("99999"), CTX))
    assert out == Play(
        CallState(node="postal", step=1, failures=1, strikes=1),
        lead_in=(Prompt("ไม่พบรหัสไปรษณีย์ค่ะ"),),
        events=(Event("ivr_invalid", "postal", "99999"),),
    )


def test_collect_without_confirm_stores_and_moves_on(flow: Flow) -> None:
    out = act(engine.handle(flow, CallState(node="ticket"), keys("6900012346"), CTX))
    assert out.action == "lookup_status"
    assert out.state == CallState(node="lookup", step=1, data={"ticket_query": "6900012346"})
    assert out.events == (Event("ivr_input", "ticket", "6900012346"), *entered("lookup"))


def test_collect_invalid_without_node_prompt_uses_flow_invalid(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="ticket"), keys("12a"), CTX))
    assert out.lead_in == (INVALID,)
    assert out.events == (Event("ivr_invalid", "ticket", "12a"),)


def test_collect_without_a_validator_function_accepts_digits_only(flow: Flow) -> None:
    bare = Context(now=OPEN_NOW)
    ok = act(engine.handle(flow, CallState(node="ticket"), keys("123"), bare))
    assert ok.state.data == {"ticket_query": "123"}
    bad = play(engine.handle(flow, CallState(node="ticket"), keys("12*"), bare))
    assert bad.state == CallState(node="ticket", step=1, failures=1, strikes=1)


@pytest.mark.parametrize("digits", ["", "#", " # "])
def test_optional_collect_skips_on_empty_or_hash(flow: Flow, digits: str) -> None:
    out = play(engine.handle(flow, CallState(node="cid", data={"a": "b"}), keys(digits), CTX))
    assert out.state == CallState(node="rec", step=1, data={"a": "b"})
    assert out.events == (Event("ivr_input", "cid", "skip"), *entered("rec"))


def test_optional_collect_skips_on_silence(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="cid"), SILENCE, CTX))
    assert out.state == CallState(node="rec", step=1)
    assert out.events == (Event("ivr_input", "cid", "skip"), *entered("rec"))


def test_required_collect_does_not_skip_on_hash(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="ticket"), keys("#"), CTX))
    assert out.state == CallState(node="ticket", step=1, failures=1, strikes=1)
    assert out.events == (Event("ivr_invalid", "ticket", "#"),)


def test_citizen_id_is_masked_in_events_but_stored_in_data(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="cid"), keys("1101700230708"), CTX))
    assert out.state.data == {
        "citizen_id": "1101700230708",
        "citizen_id_spoken": "spoken 1101700230708",
    }
    assert out.events == (Event("ivr_input", "cid", "masked"), *entered("rec"))


def test_invalid_citizen_id_is_masked_in_events(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="cid"), keys("1234"), CTX))
    assert out.events == (Event("ivr_invalid", "cid", "masked"),)


def test_phone_is_masked_in_events(flow: Flow) -> None:
    ok = play(engine.handle(flow, CallState(node="phone"), keys("0812345678"), CTX))
    assert ok.state == CallState(node="bye", step=1, data={"phone": "+66812345678"})
    assert ok.events == (Event("ivr_input", "phone", "masked"), *entered("bye"))
    bad = play(engine.handle(flow, CallState(node="phone"), keys("12"), CTX))
    assert bad.events == (Event("ivr_invalid", "phone", "masked"),)


def test_collect_zero_reaches_the_agent_and_star_repeats(flow: Flow) -> None:
    agent = play(engine.handle(flow, CallState(node="postal"), keys("0"), CTX))
    assert agent.state == CallState(node="agent", step=1)
    assert agent.events == (Event("ivr_input", "postal", "0"), *enqueued())
    state = CallState(node="postal", step=2, failures=1, strikes=1)
    out = play(engine.handle(flow, state, keys("*"), CTX))
    assert replace(out, state=replace(out.state, step=2)) == Play(state)


def test_collect_silence_uses_no_input_prompt(flow: Flow) -> None:
    out = play(engine.handle(flow, CallState(node="postal"), SILENCE, CTX))
    assert out.lead_in == (NO_INPUT,)
    assert out.events == (Event("ivr_no_input", "postal"),)


# record ------------------------------------------------------------------------------------


def test_record_stores_the_recording_under_the_store_prefix(flow: Flow) -> None:
    recording = {"sid": "RE123", "url": "https://api.twilio.com/RE123", "duration": "42"}
    given = CallerInput(recording=recording)
    out = act(engine.handle(flow, CallState(node="rec", data={"a": "b"}), given, CTX))
    assert out.action == "file_ticket"
    assert out.state == CallState(
        node="file",
        step=1,
        data={
            "a": "b",
            "recording_sid": "RE123",
            "recording_url": "https://api.twilio.com/RE123",
            "recording_duration": "42",
        },
    )
    assert out.events == (Event("ivr_input", "rec", "recorded"), *entered("file"))


@pytest.mark.parametrize(
    "given",
    [CallerInput(), CallerInput(recording={}), CallerInput(recording={"url": "x"}), SILENCE],
)
def test_no_recording_counts_as_no_input(flow: Flow, given: CallerInput) -> None:
    out = play(engine.handle(flow, CallState(node="rec"), given, CTX))
    assert out == Play(
        CallState(node="rec", step=1, failures=1, strikes=1),
        lead_in=(NO_INPUT,),
        events=(Event("ivr_no_input", "rec"),),
    )


# action ------------------------------------------------------------------------------------


def test_action_node_returns_act_with_lead_in(flow: Flow) -> None:
    out = act(engine.goto(flow, CallState(node="main", step=3), "lookup", CTX))
    assert out == Act(CallState(node="lookup", step=4), "lookup_status", (), entered("lookup"))


@pytest.mark.parametrize(
    ("node", "result", "target", "lead_in"),
    [
        ("lookup", "ok", "bye", (Prompt("พบเรื่องแล้วค่ะ"),)),
        ("lookup", "not_found", "main", (Prompt("ขออภัยค่ะ"),)),
        ("file", "no_number", "main", (Prompt("ขออภัยค่ะ"),)),
    ],
)
def test_resume_follows_results(
    flow: Flow, node: str, result: str, target: str, lead_in: tuple[Prompt, ...]
) -> None:
    out = play(engine.resume(flow, CallState(node=node, step=2), ActionResult(result), CTX))
    assert out.state == CallState(node=target, step=3)
    assert out.lead_in == lead_in


def test_resume_ok_falls_back_to_next_and_merges_data(flow: Flow) -> None:
    state = CallState(node="file", step=2, data={"category": "land"})
    result = ActionResult("ok", {"ticket_digits": "หก เก้า", "ticket_number": "69"})
    out = play(engine.resume(flow, state, result, CTX))
    assert out.state == CallState(
        node="survey",
        step=3,
        data={"category": "land", "ticket_digits": "หก เก้า", "ticket_number": "69"},
    )
    assert out.lead_in == (Prompt("เลขที่เรื่อง {ticket_digits} ค่ะ"),)
    assert out.events == entered("filed", "survey")


@pytest.mark.parametrize("node", ["file", "lookup"])
def test_resume_unknown_result_goes_to_the_agent(flow: Flow, node: str) -> None:
    out = play(engine.resume(flow, CallState(node=node), ActionResult("boom", {"x": "1"}), CTX))
    assert out.state == CallState(node="agent", step=1, data={"x": "1"})
    assert out.lead_in == ()
    assert out.events == enqueued()


def test_resume_unknown_result_after_hours_goes_to_the_after_hours_agent(flow: Flow) -> None:
    state = CallState(node="lookup", after_hours=True)
    out = play(engine.resume(flow, state, ActionResult("boom"), CTX_NIGHT))
    assert out.state == CallState(node="closed_agent", step=1, after_hours=True)


# queue and goto ----------------------------------------------------------------------------


def test_after_queue_goes_on_only_when_bridged(flow: Flow) -> None:
    state = CallState(node="agent", step=5)
    assert engine.after_queue(flow, state, False, CTX) is None
    out = play(engine.after_queue(flow, state, True, CTX))
    assert out == Play(CallState(node="survey", step=6), events=entered("survey"))


def test_after_queue_without_after_is_none(flow: Flow) -> None:
    assert engine.after_queue(flow, CallState(node="closed_agent"), True, CTX) is None


def test_goto_enters_the_node(flow: Flow) -> None:
    state = CallState(node="agent", step=5, failures=1, strikes=2, data={"a": "b"})
    out = play(engine.goto(flow, state, "bye", CTX))
    assert out == Play(
        CallState(node="bye", step=6, strikes=2, data={"a": "b"}), events=entered("bye")
    )


# survey ------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["1", "2", "3", "4", "5"])
def test_survey_stores_the_score(flow: Flow, score: str) -> None:
    out = play(engine.handle(flow, CallState(node="survey"), keys(score), CTX))
    assert out.state == CallState(node="bye", step=1, data={"csat": score})
    assert out.events == (
        Event("ivr_input", "survey", score),
        Event("survey_answer", "survey", score),
        *entered("bye"),
    )


@pytest.mark.parametrize("wrong", ["6", "9", "12", "#"])
def test_survey_wrong_key_re_prompts_then_moves_on(flow: Flow, wrong: str) -> None:
    first = play(engine.handle(flow, CallState(node="survey"), keys(wrong), CTX))
    assert first == Play(
        CallState(node="survey", step=1, failures=1, strikes=1),
        lead_in=(Prompt("กด 1 ถึง 5 ค่ะ"),),
        events=(Event("ivr_invalid", "survey", wrong),),
    )
    second = play(engine.handle(flow, first.state, keys(wrong), CTX))
    assert second.state == CallState(node="bye", step=2, strikes=1)
    assert second.lead_in == ()
    assert second.events == (Event("ivr_invalid", "survey", wrong), *entered("bye"))


def test_survey_zero_goes_to_agent_and_star_repeats(flow: Flow) -> None:
    agent = play(engine.handle(flow, CallState(node="survey"), keys("0"), CTX))
    assert agent.state == CallState(node="agent", step=1)
    assert agent.events == (Event("ivr_input", "survey", "0"), *enqueued())
    state = CallState(node="survey", failures=1)
    out = play(engine.handle(flow, state, keys("*"), CTX))
    assert replace(out, state=replace(out.state, step=0)) == Play(state)


def test_survey_silence_moves_on_instead_of_reaching_an_agent(flow: Flow) -> None:
    first = play(engine.handle(flow, CallState(node="survey"), SILENCE, CTX))
    assert first == Play(
        CallState(node="survey", step=1, failures=1, strikes=1),
        lead_in=(NO_INPUT,),
        events=(Event("ivr_no_input", "survey"),),
    )
    second = play(engine.handle(flow, first.state, SILENCE, CTX))
    assert second == Play(
        CallState(node="bye", step=2, strikes=1),
        events=(Event("ivr_no_input", "survey"), *entered("bye")),
    )


# determinism and steps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "given"),
    [
        (CallState(node="main"), keys("1")),
        (CallState(node="main"), keys("9")),
        (CallState(node="postal"), keys("10200")),
        (CallState(node="postal", confirming="10200"), keys("1")),
        (CallState(node="rec"), CallerInput(recording={"sid": "RE1"})),
        (CallState(node="survey"), SILENCE),
    ],
)
def test_same_state_and_input_give_equal_outcomes(
    flow: Flow, state: CallState, given: CallerInput
) -> None:
    assert engine.handle(flow, state, given, CTX) == engine.handle(flow, state, given, CTX)


def test_step_increases_by_one_per_handled_request(flow: Flow) -> None:
    out: Outcome = engine.start(flow, CTX)
    assert out.state.step == 0
    walk = []
    for given in [keys("9"), keys("1"), keys("10200"), keys("2"), keys("10200"), keys("1")]:
        out = engine.handle(flow, out.state, given, CTX)
        walk.append((out.state.node, out.state.step))
    assert walk == [
        ("main", 1),
        ("postal", 2),
        ("postal", 3),
        ("postal", 4),
        ("postal", 5),
        ("cid", 6),
    ]
    recorded = engine.handle(flow, out.state, CallerInput(recording={"sid": "RE1"}), CTX)
    assert recorded.state.step == 7
    resumed = engine.resume(flow, recorded.state, ActionResult("ok"), CTX)
    assert resumed.state.step == 8


@pytest.mark.parametrize("node", ["main", "postal", "survey"])
def test_star_increases_step_by_one(flow: Flow, node: str) -> None:
    out = play(engine.handle(flow, CallState(node=node, step=3), keys("*"), CTX))
    assert out.state.step == 4


@pytest.mark.parametrize("node", ["bye", "agent"])
def test_input_on_a_node_that_expects_none_plays_it_again(flow: Flow, node: str) -> None:
    state = CallState(node=node, step=2)
    assert engine.handle(flow, state, keys("5"), CTX) == Play(replace(state, step=3))


# the bundled 1567 flow ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow_1567() -> Flow:
    """The bundled flow with a provincial center's office hours (the national line has none)."""
    flow = load_flow("1567")
    return replace(flow, hours=BusinessHours(frozenset(range(5)), time(8, 30), time(16, 30)))


@pytest.mark.parametrize("now", [OPEN_NOW, NIGHT, datetime(2026, 11, 28, 3, 0, tzinfo=BANGKOK)])
def test_the_national_line_reaches_the_main_menu_at_any_hour(now: datetime) -> None:
    out = play(engine.start(load_flow("1567"), Context(now=now)))
    assert out.state.node == "main_menu" and not out.state.after_hours


def test_bundled_flow_in_business_hours_reaches_the_main_menu(flow_1567: Flow) -> None:
    out = play(engine.start(flow_1567, Context(now=OPEN_NOW)))
    assert out.state == CallState(node="main_menu")
    assert out.lead_in == (
        flow_1567.node("greeting").prompt,
        flow_1567.node("privacy_notice").prompt,
    )
    assert out.lead_in[0].text == "ศูนย์ดำรงธรรม สวัสดีค่ะ"
    # why it is recorded and for how long (filled from RECORDING_RETENTION_DAYS at start-up)
    assert out.lead_in[1].text.startswith("เพื่อดำเนินการเรื่องของท่าน ระบบจะบันทึกเสียง")
    assert "{retention}" in out.lead_in[1].text
    assert out.events == entered("greeting", "privacy_notice", "office_hours", "main_menu")


@pytest.mark.parametrize(
    ("now", "holidays"),
    [
        (NIGHT, frozenset()),
        (OPEN_NOW, frozenset({date(2026, 11, 24)})),
        (datetime(2026, 11, 28, 10, 0, tzinfo=BANGKOK), frozenset()),
    ],
)
def test_bundled_flow_after_hours_reaches_the_after_hours_menu(
    flow_1567: Flow, now: datetime, holidays: frozenset[date]
) -> None:
    out = play(engine.start(flow_1567, Context(now=now, holidays=holidays)))
    assert out.state == CallState(node="after_hours_menu", after_hours=True)
    assert len(out.lead_in) == 2
    assert out.events == entered("greeting", "privacy_notice", "office_hours", "after_hours_menu")


def test_bundled_flow_complaint_path(flow_1567: Flow) -> None:
    ctx = Context(now=OPEN_NOW, validators=VALIDATORS)
    out: Outcome = engine.start(flow_1567, ctx)
    for given, node in [
        (keys("1"), "complaint_category"),
        (keys("1"), "postal_code"),
        (keys("10200"), "postal_code"),
        (keys("1"), "citizen_id"),
        (keys("#"), "record_complaint"),
    ]:
        out = engine.handle(flow_1567, out.state, given, ctx)
        assert out.state.node == node
    filing = act(engine.handle(flow_1567, out.state, CallerInput(recording={"sid": "RE9"}), ctx))
    assert filing.action == "file_ticket"
    assert filing.state.data == {
        "category": "land",
        "postal_place": "พระนคร",
        "postal_code": "10200",
        "postal_code_unknown": "",
        "recording_sid": "RE9",
    }
    filed = play(engine.resume(flow_1567, filing.state, ActionResult("ok"), ctx))
    assert filed.state.node == "sms_offer"  # its prompt holds the number, so * repeats it
    assert "{ticket_digits}" in flow_1567.node("sms_offer").prompt.text
    assert filed.lead_in == ()
    assert filed.state.step == 7


# picking one of several places, and "don't know" ---------------------------------------------

PICK_YAML = """\
name: pick
start: where
agent: agent
give_up: bye
prompts: {no_input: "ไม่ได้ยินค่ะ", invalid: "กดไม่ถูกต้องค่ะ", to_agent: "โอนสายค่ะ"}
nodes:
  agent: {kind: enqueue, say: "รอค่ะ", queue: agents}
  bye: {kind: hangup, say: "สวัสดีค่ะ"}
  where:
    kind: collect
    say: "กดรหัสค่ะ"
    validator: postal_code
    store: postal_code
    unknown: true
    pick: "มีหลายอำเภอ {choices} ค่ะ"
    confirm: "พื้นที่{postal_place} กด 1 ค่ะ"
    next: bye
"""


def places(count: int) -> Validation:
    options = tuple(engine.Option(f"อำเภอ{i}", {"district_code": f"d{i}", "postal_place": f"ที่{i}"})
                    for i in range(1, count + 1))  # fmt: skip
    return Validation(True, "11111", {"postal_code": "11111", "district_code": ""}, options)


def pick_ctx(count: int) -> Context:
    return Context(now=OPEN_NOW, validators={"postal_code": lambda _digits: places(count)})


def test_several_places_are_read_as_a_menu_and_each_can_be_picked() -> None:
    flow, ctx = parse_flow(PICK_YAML, "pick.yaml"), pick_ctx(4)
    asked = play(engine.handle(flow, CallState(node="where"), keys("11111"), ctx))
    assert asked.state.data["choices"] == "อำเภอ1 กด 1 อำเภอ2 กด 2 อำเภอ3 กด 3 อำเภอ4 กด 4"
    picked = play(engine.handle(flow, asked.state, keys("4"), ctx))
    assert picked.state.node == "bye"
    assert picked.state.data["district_code"] == "d4"
    assert "choices" not in picked.state.data and engine.PICK_PAGE not in picked.state.data


def test_more_than_five_places_are_read_four_at_a_time_with_9_for_the_rest() -> None:
    flow, ctx = parse_flow(PICK_YAML, "pick.yaml"), pick_ctx(7)
    first = play(engine.handle(flow, CallState(node="where"), keys("11111"), ctx))
    assert first.state.data["choices"].endswith("อำเภอ4 กด 4 อำเภออื่น กด 9")
    second = play(engine.handle(flow, first.state, keys("9"), ctx))
    assert second.state.data["choices"].startswith("อำเภอ5 กด 1")
    assert (
        play(engine.handle(flow, second.state, keys("3"), ctx)).state.data["district_code"] == "d7"
    )
    again = play(engine.handle(flow, second.state, keys("9"), ctx))  # back to the first page
    assert again.state.data["choices"] == first.state.data["choices"]


@pytest.mark.parametrize("count", [1, 3])
def test_hash_alone_or_in_the_pick_list_means_the_caller_does_not_know(count: int) -> None:
    flow, ctx = parse_flow(PICK_YAML, "pick.yaml"), pick_ctx(count)
    unknown = play(engine.handle(flow, CallState(node="where"), keys(""), ctx))
    assert unknown.state.node == "bye" and unknown.state.data["postal_code_unknown"] == "1"
    asked = play(engine.handle(flow, CallState(node="where"), keys("11111"), ctx))
    answer = "1" if count == 1 else "#"  # one place is confirmed, several are picked
    done = play(engine.handle(flow, asked.state, keys(answer), ctx))
    assert done.state.data["postal_code_unknown"] == ("" if count == 1 else "1")
