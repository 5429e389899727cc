"""TwiML from engine answers, checked element by element; and the Thai spoken forms."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from twilio.twiml.voice_response import VoiceResponse

from ivr_flows.engine import CallState, Play
from ivr_flows.loader import parse_flow
from ivr_flows.model import Flow, Prompt
from ivr_flows.render import Renderer, Voice, fill
from ivr_flows.thai import spoken_digits, thai_date

BASE = "https://x/twilio"
FLOW_YAML = """\
name: render
start: main
agent: agent
give_up: bye
prompts:
  no_input: "ไม่ได้ยินค่ะ"
  invalid: "กดไม่ถูกต้องค่ะ"
  to_agent: "โอนสายค่ะ"
nodes:
  main: {kind: menu, say: "เมนูหลักค่ะ", options: {"1": bye}}
  spoken:
    kind: menu
    say: "พูดหรือกดค่ะ"
    speech: {ร้องเรียน: "1", ติดตาม: "2"}
    options: {"1": bye, "2": bye}
  postal:
    kind: collect
    say: "กดรหัสไปรษณีย์ค่ะ"
    validator: postal_code
    store: postal_code
    confirm: "พื้นที่{postal_place} ถูกต้องกด 1 ค่ะ"
    next: bye
  cid:
    kind: collect
    say: "กดเลขประจำตัวประชาชนค่ะ"
    validator: citizen_id
    store: citizen_id
    optional: true
    next: bye
  ticket:
    kind: collect
    say: "กดเลขที่เรื่องแล้วกดสี่เหลี่ยมค่ะ"
    validator: ticket_number
    store: ticket_query
    next: bye
  rec: {kind: record, say: "เล่าเรื่องค่ะ", store: recording, next: bye}
  short_rec: {kind: record, say: "สั้น ๆ ค่ะ", store: note, next: bye, max_length: 30}
  filed: {kind: hangup, say: "เลขที่เรื่อง {ticket_digits} {nobody_set_this}ค่ะ"}
  jingle: {kind: hangup, say: "ข้อความสำรองค่ะ", audio: "prompts/jingle.wav"}
  agent:
    kind: enqueue
    say: "รอสักครู่ค่ะ"
    queue: agents
    hold: "ท่านอยู่ลำดับที่ {queue_position} ค่ะ"
    after: survey
  survey: {kind: survey, say: "ให้คะแนน 1 ถึง 5 ค่ะ", store: csat, next: bye}
  dial: {kind: transfer, say: "โอนสายค่ะ", number: "+6621234567", next: bye}
  bye: {kind: hangup, say: "ขอบคุณค่ะ"}
"""

Tree = tuple[str, dict[str, str], str, list[Any]]


class FakeUrls:
    """Predictable URLs that name the node and step, like the real ones carry the state."""

    def step(self, state: CallState, *, timed_out: bool = False) -> str:
        url = f"{BASE}/step?n={state.node}&k={state.step}"
        return url + "&e=timeout" if timed_out else url

    def recording_status(self, state: CallState) -> str:
        return f"{BASE}/recording?n={state.node}&k={state.step}"

    def queue_result(self, state: CallState) -> str:
        return f"{BASE}/queue?n={state.node}&k={state.step}"

    def wait(self, state: CallState) -> str:
        return f"{BASE}/wait?n={state.node}&k={state.step}"

    def queue_key(self, state: CallState) -> str:
        return f"{BASE}/queue-key?n={state.node}&k={state.step}"

    def audio(self, path: str) -> str:
        return f"https://x/audio/{path}"


@pytest.fixture(scope="module")
def flow() -> Flow:
    return parse_flow(FLOW_YAML, "render.yaml")


@pytest.fixture(scope="module")
def renderer(flow: Flow) -> Renderer:
    return Renderer(flow, Voice(), FakeUrls(), recording_max_s=120)


def tree_of(response: VoiceResponse) -> list[Tree]:
    """The children of <Response> as (tag, attributes, text, children), parsed from the XML."""
    root = fromstring(str(response))
    assert root.tag == "Response"
    assert dict(root.attrib) == {}
    return [_tree(child) for child in root]


def _tree(element: Any) -> Tree:
    return (
        element.tag,
        dict(element.attrib),
        element.text or "",
        [_tree(child) for child in element],
    )


def say(text: str) -> Tree:
    return ("Say", {"language": "th-TH", "voice": "Google.th-TH-Standard-A"}, text, [])


def step(node: str, k: int) -> str:
    return f"{BASE}/step?n={node}&k={k}"


def redirect_timeout(node: str, k: int) -> Tree:
    return ("Redirect", {"method": "POST"}, step(node, k) + "&e=timeout", [])


# node kinds --------------------------------------------------------------------------------


def test_menu_is_a_one_key_gather_then_a_timeout_redirect(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="main", step=3)))
    assert tree_of(twiml) == [
        (
            "Gather",
            {
                "input": "dtmf",
                "numDigits": "1",
                "action": step("main", 3),
                "method": "POST",
                "timeout": "6",
            },
            "",
            [say("เมนูหลักค่ะ")],
        ),
        redirect_timeout("main", 3),
    ]


def test_menu_with_speech_listens_in_thai_with_hints(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="spoken", step=1)))
    assert tree_of(twiml) == [
        (
            "Gather",
            {
                "input": "dtmf speech",
                "numDigits": "1",
                "action": step("spoken", 1),
                "method": "POST",
                "timeout": "6",
                "language": "th-TH",
                "hints": "ร้องเรียน, ติดตาม",
                "speechTimeout": "3",
                "speechModel": "experimental_utterances",
            },
            "",
            [say("พูดหรือกดค่ะ")],
        ),
        redirect_timeout("spoken", 1),
    ]


def test_survey_renders_like_a_menu(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="survey", step=2)))
    gather, redirect = tree_of(twiml)
    assert gather[0] == "Gather"
    assert gather[1] == {
        "input": "dtmf",
        "numDigits": "1",
        "action": step("survey", 2),
        "method": "POST",
        "timeout": "6",
    }
    assert gather[3] == [say("ให้คะแนน 1 ถึง 5 ค่ะ")]
    assert redirect == redirect_timeout("survey", 2)


def test_postal_code_collect_takes_five_digits_or_hash(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="postal", step=4)))
    assert tree_of(twiml) == [
        (
            "Gather",
            {
                "input": "dtmf",
                "numDigits": "5",
                "finishOnKey": "#",
                "action": step("postal", 4),
                "method": "POST",
                "timeout": "8",
            },
            "",
            [say("กดรหัสไปรษณีย์ค่ะ")],
        ),
        redirect_timeout("postal", 4),
    ]


def test_ticket_number_collect_has_no_fixed_length(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="ticket", step=1)))
    gather, redirect = tree_of(twiml)
    assert gather == (
        "Gather",
        {
            "input": "dtmf",
            "finishOnKey": "#",
            "action": step("ticket", 1),
            "method": "POST",
            "timeout": "8",
        },
        "",
        [say("กดเลขที่เรื่องแล้วกดสี่เหลี่ยมค่ะ")],
    )
    assert redirect == redirect_timeout("ticket", 1)


def test_optional_citizen_id_collect_posts_even_an_empty_answer(renderer: Renderer) -> None:
    gather, _ = tree_of(renderer.play(Play(CallState(node="cid", step=1))))
    assert gather[1] == {
        "input": "dtmf",
        "numDigits": "13",
        "finishOnKey": "#",
        "actionOnEmptyResult": "true",
        "action": step("cid", 1),
        "method": "POST",
        "timeout": "8",
    }


def test_confirming_asks_one_key_with_the_confirm_prompt(renderer: Renderer) -> None:
    state = CallState(node="postal", step=5, confirming="10200", data={"postal_place": "พระนคร"})
    assert tree_of(renderer.play(Play(state))) == [
        (
            "Gather",
            {
                "input": "dtmf",
                "numDigits": "1",
                "action": step("postal", 5),
                "method": "POST",
                "timeout": "6",
            },
            "",
            [say("พื้นที่พระนคร ถูกต้องกด 1 ค่ะ")],
        ),
        redirect_timeout("postal", 5),
    ]


def test_record_says_records_then_redirects(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="rec", step=7)))
    assert tree_of(twiml) == [
        say("เล่าเรื่องค่ะ"),
        (
            "Record",
            {
                "action": step("rec", 7),
                "method": "POST",
                "maxLength": "120",
                "timeout": "10",  # a slow speaker pauses to think (#17)
                "finishOnKey": "#",
                "playBeep": "true",
                "recordingStatusCallback": f"{BASE}/recording?n=rec&k=7",
                "recordingStatusCallbackMethod": "POST",
                "recordingStatusCallbackEvent": "completed absent",
            },
            "",
            [],
        ),
        redirect_timeout("rec", 7),
    ]


def test_record_uses_the_node_max_length_when_set(renderer: Renderer) -> None:
    _, record, _ = tree_of(renderer.play(Play(CallState(node="short_rec", step=1))))
    assert record[0] == "Record"
    assert record[1]["maxLength"] == "30"


def test_enqueue_says_then_enqueues_with_wait_and_action_urls(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="agent", step=2)))
    assert tree_of(twiml) == [
        say("รอสักครู่ค่ะ"),
        (
            "Enqueue",
            {
                "action": f"{BASE}/queue?n=agent&k=2",
                "method": "POST",
                "waitUrl": f"{BASE}/wait?n=agent&k=2",
                "waitUrlMethod": "POST",
            },
            "agents",
            [],
        ),
    ]


def test_transfer_dials_the_number(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="dial", step=1)))
    assert tree_of(twiml) == [
        say("โอนสายค่ะ"),
        (
            "Dial",
            {"action": step("dial", 1), "method": "POST", "timeout": "30"},
            "+6621234567",
            [],
        ),
    ]


def test_hangup_says_goodbye_and_hangs_up(renderer: Renderer) -> None:
    twiml = renderer.play(Play(CallState(node="bye", step=9)))
    assert tree_of(twiml) == [say("ขอบคุณค่ะ"), ("Hangup", {}, "", [])]


# prompts -----------------------------------------------------------------------------------


def test_lead_in_prompts_come_first_inside_the_gather(renderer: Renderer) -> None:
    """Was: the greeting and the notice were said before the Gather, so no key (not even 0)
    worked during them."""
    outcome = Play(CallState(node="main", step=1), lead_in=(Prompt("สวัสดีค่ะ"), Prompt("บันทึกเสียงค่ะ")))
    children = tree_of(renderer.play(outcome))
    assert [child[0] for child in children] == ["Gather", "Redirect"]
    assert children[0][3] == [say("สวัสดีค่ะ"), say("บันทึกเสียงค่ะ"), say("เมนูหลักค่ะ")]


def test_lead_in_before_a_recording_stays_outside(renderer: Renderer, flow: Flow) -> None:
    record = next(n for n, node in flow.nodes.items() if node.kind == "record")
    children = tree_of(renderer.play(Play(CallState(node=record), lead_in=(Prompt("ก่อนค่ะ"),))))
    assert children[0] == say("ก่อนค่ะ")


def test_empty_lead_in_prompts_are_skipped(renderer: Renderer) -> None:
    outcome = Play(CallState(node="bye"), lead_in=(Prompt(), Prompt("ขออภัยค่ะ")))
    assert tree_of(renderer.play(outcome)) == [
        say("ขออภัยค่ะ"),
        say("ขอบคุณค่ะ"),
        ("Hangup", {}, "", []),
    ]


def test_prompt_variables_come_from_state_data_and_unknown_ones_are_empty(
    renderer: Renderer,
) -> None:
    state = CallState(node="filed", data={"ticket_digits": "หก เก้า ศูนย์"})
    lead = Prompt("เรื่อง {ticket_digits} ครับ {also_unknown}!")
    children = tree_of(renderer.play(Play(state, lead_in=(lead,))))
    assert children == [
        say("เรื่อง หก เก้า ศูนย์ ครับ !"),
        say("เลขที่เรื่อง หก เก้า ศูนย์ ค่ะ"),
        ("Hangup", {}, "", []),
    ]


def test_data_values_are_not_formatted_again(renderer: Renderer) -> None:
    state = CallState(node="filed", data={"ticket_digits": "{nobody_set_this}<&>"})
    children = tree_of(renderer.play(Play(state)))
    assert children[0] == say("เลขที่เรื่อง {nobody_set_this}<&> ค่ะ")


def test_fill_replaces_known_names_and_blanks_unknown_ones() -> None:
    assert fill("{a}-{b}-{a}", {"a": "1"}) == "1--1"


def test_audio_prompt_plays_the_file_instead_of_speaking(renderer: Renderer) -> None:
    outcome = Play(CallState(node="jingle"), lead_in=(Prompt("x", "prompts/hello.mp3"),))
    assert tree_of(renderer.play(outcome)) == [
        ("Play", {}, "https://x/audio/prompts/hello.mp3", []),
        ("Play", {}, "https://x/audio/prompts/jingle.wav", []),
        ("Hangup", {}, "", []),
    ]


def test_custom_voice_is_used_everywhere(flow: Flow) -> None:
    renderer = Renderer(flow, Voice("Polly.Custom", "th-TH"), FakeUrls(), recording_max_s=60)
    children = tree_of(renderer.play(Play(CallState(node="bye"))))
    assert children[0] == ("Say", {"language": "th-TH", "voice": "Polly.Custom"}, "ขอบคุณค่ะ", [])


# hold music and apology --------------------------------------------------------------------


def test_hold_fills_the_queue_position_and_pauses(renderer: Renderer, flow: Flow) -> None:
    twiml = renderer.hold(flow.node("agent"), CallState(node="agent"), {"queue_position": "3"})
    assert tree_of(twiml) == [
        say("ท่านอยู่ลำดับที่ 3 ค่ะ"),
        ("Pause", {"length": "20"}, "", []),
    ]


def test_hold_with_a_way_out_speaks_inside_a_gather_and_plays_the_hold_audio(
    renderer: Renderer, flow: Flow
) -> None:
    node = replace(flow.node("agent"), leave="bye", hold_audio="hold/music.mp3")
    twiml = renderer.hold(node, CallState(node="agent", step=4), {"queue_position": "2"})
    [(tag, attrs, _text, children)] = tree_of(twiml)
    assert tag == "Gather" and attrs["action"] == f"{BASE}/queue-key?n=agent&k=4"
    assert attrs["numDigits"] == "1" and int(attrs["timeout"]) <= 10
    assert [c[0] for c in children] == ["Say", "Play"]
    assert str(renderer.leave_queue()).endswith("<Response><Leave /></Response>")


def test_apology_says_sorry_and_enqueues(renderer: Renderer) -> None:
    twiml = renderer.apology("ขออภัยค่ะ ระบบขัดข้อง", "agents", f"{BASE}/queue?n=x")
    assert tree_of(twiml) == [
        say("ขออภัยค่ะ ระบบขัดข้อง"),
        ("Enqueue", {"action": f"{BASE}/queue?n=x", "method": "POST"}, "agents", []),
    ]


# Thai spoken forms -------------------------------------------------------------------------

TICKET_WORDS = "หก เก้า ศูนย์ ศูนย์ ศูนย์ หนึ่ง สอง สาม สี่ หก"


@pytest.mark.parametrize(
    ("digits", "group", "spoken"),
    [
        ("6900012346", 0, TICKET_WORDS),
        ("6900012346", 3, "หก เก้า ศูนย์, ศูนย์ ศูนย์ หนึ่ง, สอง สาม สี่, หก"),
        ("6900012346", 5, "หก เก้า ศูนย์ ศูนย์ ศูนย์, หนึ่ง สอง สาม สี่ หก"),
        ("6900012346", -1, TICKET_WORDS),
        ("0123456789", 0, "ศูนย์ หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด เก้า"),
        ("69-0001 2346", 0, TICKET_WORDS),  # separators are not read
        ("๖๙", 0, "หก เก้า"),  # Thai digits
        ("", 3, ""),
    ],
)
def test_spoken_digits(digits: str, group: int, spoken: str) -> None:
    assert spoken_digits(digits, group) == spoken


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2026, 11, 24), "24 พฤศจิกายน พ.ศ. 2569"),
        (date(2027, 1, 1), "1 มกราคม พ.ศ. 2570"),
        (date(2024, 2, 29), "29 กุมภาพันธ์ พ.ศ. 2567"),
        (date(2026, 12, 31), "31 ธันวาคม พ.ศ. 2569"),
    ],
)
def test_thai_date(day: date, text: str) -> None:
    assert thai_date(day) == text


def test_thai_date_spoken_writes_the_era_out() -> None:
    assert thai_date(date(2026, 11, 24), spoken=True) == "24 พฤศจิกายน พุทธศักราช 2569"


@pytest.mark.parametrize("digits", ["1²", "1①"])
def test_spoken_digits_skips_characters_that_are_not_decimal_digits(digits: str) -> None:
    assert spoken_digits(digits) == "หนึ่ง"
