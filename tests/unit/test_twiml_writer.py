"""The fast TwiML writer writes what twilio's VoiceResponse writes, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from twilio.twiml.voice_response import VoiceResponse

from ivr_flows.engine import CallState, Play
from ivr_flows.loader import load_flow, parse_flow
from ivr_flows.model import Flow, Prompt
from ivr_flows.render import Renderer, Voice
from ivr_flows.twiml import Response
from tests.unit.test_ivr_render import FLOW_YAML, FakeUrls

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "ivr_flows" / "flows").glob("*.yaml"))
# Text that must be escaped the way ElementTree escapes it, in text and in attributes.
DEFAULT_VOICE = Voice()
AWKWARD = {"ticket_digits": 'หก & <ห้า> "สี่"\tสาม\nสอง', "queue_position": "1 > 0 & 'x'"}


def flows() -> list[Flow]:
    return [parse_flow(FLOW_YAML, "render.yaml"), *(load_flow(path) for path in SHIPPED)]


def both(flow: Flow, voice: Voice = DEFAULT_VOICE) -> tuple[Renderer, Renderer]:
    fast = Renderer(flow, voice, FakeUrls(), recording_max_s=120)
    reference = Renderer(flow, voice, FakeUrls(), 120, document=VoiceResponse)  # type: ignore[arg-type]
    return fast, reference


@pytest.mark.parametrize("flow", flows(), ids=lambda f: f.name)
def test_every_node_renders_the_same_document_as_twilios_library(flow: Flow) -> None:
    fast, reference = both(flow)
    lead_in = (Prompt(text="คำนำ & <ทักทาย> {ticket_digits}"), Prompt(audio="prompts/x&y.wav"))
    checked = 0
    rendered = [name for name, node in flow.nodes.items() if hasattr(fast, f"_{node.kind}")]
    for name in rendered:
        for confirming in (None, "50200"):
            state = CallState(node=name, step=3, data=AWKWARD, confirming=confirming)
            for play in (Play(state), Play(state, lead_in=lead_in)):
                assert str(fast.play(play)) == str(reference.play(play)), name
                checked += 1
        node = flow.node(name)
        if node.kind == "enqueue":
            state = CallState(node=name)
            assert str(fast.hold(node, state, AWKWARD)) == str(reference.hold(node, state, AWKWARD))
    assert checked == 4 * len(rendered) > 0


def test_the_apology_and_an_empty_document_match_too() -> None:
    fast, reference = both(flows()[0], Voice("Polly.Custom", "th-TH"))
    args = ("ขออภัยค่ะ & ขอโทษ", "agents", "https://x/twilio/queue?s=a&b=c")
    assert str(fast.apology(*args)) == str(reference.apology(*args))
    assert str(Response()) == str(VoiceResponse())


def test_the_agent_leg_and_sms_documents_match_twilios_library() -> None:
    """The verbs the agent's leg and the SMS replies use: <Dial> with a <Queue>, <Say> and
    <Hangup>, and a messaging <Message>."""
    from twilio.twiml.messaging_response import MessagingResponse
    from twilio.twiml.voice_response import Dial

    base = "https://x/twilio/agent"
    fast = Response()
    dial = fast.dial(None, action=f"{base}/done?agent=7&x=<1>", method="POST", timeout=20,
                     record="record-from-answer-dual",
                     recording_status_callback=f"{base}/recording?agent=7")  # fmt: skip
    dial.queue("agents", url=f"{base}/bridge?agent=7", method="POST")
    fast.say("ขออภัยค่ะ & <ขอโทษ>", voice="Google.th-TH-Standard-A", language="th-TH")
    fast.hangup()
    reference = VoiceResponse()
    ref_dial = Dial(action=f"{base}/done?agent=7&x=<1>", method="POST", timeout=20,
                    record="record-from-answer-dual",
                    recording_status_callback=f"{base}/recording?agent=7")  # fmt: skip
    ref_dial.queue("agents", url=f"{base}/bridge?agent=7", method="POST")
    reference.append(ref_dial)
    reference.say("ขออภัยค่ะ & <ขอโทษ>", voice="Google.th-TH-Standard-A", language="th-TH")
    reference.hangup()
    assert str(fast) == str(reference)

    reply = Response()
    reply.message("ศูนย์ดำรงธรรม 1567: ส่ง START & <อีกครั้ง>")
    expected = MessagingResponse()
    expected.message("ศูนย์ดำรงธรรม 1567: ส่ง START & <อีกครั้ง>")
    assert str(reply) == str(expected)
