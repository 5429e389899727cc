"""Answers: a plain node's TwiML is rendered once with a mark for the sealed state, and every
answer built from it is exactly what rendering afresh gives."""

from __future__ import annotations

import re

import pytest

from hotline.twilio.ivr import STATE_MARK, Answers, Urls, _MarkedUrls
from hotline.twilio.state import StateCodec
from ivr_flows.engine import CallState, Play
from ivr_flows.model import Flow, Prompt
from ivr_flows.render import Renderer, Voice
from tests.unit.test_twiml_writer import AWKWARD, flows

BASE = "https://hotline.example:8443/base"


def answers_for(flow: Flow) -> tuple[Answers, Renderer, Urls]:
    codec = StateCodec("a-test-secret-key-of-enough-length-0123", clock=lambda: 1_800_000_000)
    urls = Urls(BASE, codec)
    fresh = Renderer(flow, Voice(), urls, recording_max_s=120)
    marked = Renderer(flow, Voice(), _MarkedUrls(BASE, codec), recording_max_s=120)
    return Answers(fresh, marked, urls), fresh, urls


@pytest.mark.parametrize("flow", flows(), ids=lambda f: f.name)
def test_every_node_answers_as_rendering_afresh_would(flow: Flow) -> None:
    answers, fresh, _urls = answers_for(flow)
    rendered = [name for name, node in flow.nodes.items() if hasattr(fresh, f"_{node.kind}")]
    lead_ins = [(Prompt(text="คำนำ {ticket_digits}"),), (Prompt(text="ข้อมูล & <เวลา>"),),
                (Prompt(audio="prompts/x&y.wav"), Prompt(text="สวัสดีค่ะ"))]  # fmt: skip
    for name in rendered:
        for confirming in (None, "50200"):
            for data in ({}, AWKWARD, {"postal_place": "อำเภอเมืองเชียงใหม่"}):
                for step in (1, 2):  # the second time round, the stored answer is used
                    state = CallState(node=name, step=step, data=data, confirming=confirming)
                    plays = [Play(state), *(Play(state, lead_in=li) for li in lead_ins)]
                    for play in plays:
                        answer = answers.text(play)
                        assert answer == str(fresh.play(play)), name
                        assert STATE_MARK not in answer


def test_a_plain_node_is_rendered_once_and_carries_each_calls_own_state() -> None:
    flow = flows()[1]  # the shipped 1567 flow
    answers, _fresh, _urls = answers_for(flow)
    menu = next(name for name, node in flow.nodes.items() if node.kind == "menu")
    codec = StateCodec("a-test-secret-key-of-enough-length-0123", clock=lambda: 1_800_000_000)
    renders = 0
    original = answers._marked.play

    def counting(play: Play) -> object:
        nonlocal renders
        renders += 1
        return original(play)

    answers._marked.play = counting  # type: ignore[method-assign]
    for category in ("1", "2", "3"):
        answer = answers.text(Play(CallState(node=menu, step=1, data={"category": category})))
        tokens = set(re.findall(r"[?&]s=([A-Za-z0-9_.-]+)", answer))
        assert len(tokens) == 1  # every URL of the answer carries the same sealed state
        assert codec.decode(tokens.pop(), "").data == {"category": category}
    assert renders == 1
