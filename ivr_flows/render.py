"""Turn an engine answer into TwiML. The only place the IVR builds TwiML.

URLs come from the application (a :class:`Urls`), so the engine's state can travel inside them
and this module knows nothing about routes or encryption.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from ivr_flows.engine import PICK_PAGE, CallState, Play
from ivr_flows.model import Flow, Node, Prompt
from ivr_flows.twiml import Element, Response

MENU_TIMEOUT_S = 6
COLLECT_TIMEOUT_S = 8
RECORD_SILENCE_S = 10  # a slow speaker pauses to think: 5 s cut callers off mid-complaint
HOLD_PAUSE_S = 20
HOLD_GAP_S = 10  # between hold messages: long enough to rest, short enough not to seem cut off
LEAVE_KEY = "1"  # in the queue: stop waiting
# Whether the prompts said before a node (say nodes, lead-in) are inside its Gather, so a key
# interrupts them; the caller-burden report reads it to say when 0 starts to work.
LEAD_IN_INTERRUPTIBLE = True
GATHERING = frozenset({"menu", "survey", "collect"})
# Validators whose answers have a fixed length: the Gather ends by itself, no # needed.
FIXED_DIGITS = {"postal_code": 5, "citizen_id": 13}


class Urls(Protocol):
    def step(self, state: CallState, *, timed_out: bool = False) -> str: ...
    def recording_status(self, state: CallState) -> str: ...
    def queue_result(self, state: CallState) -> str: ...
    def wait(self, state: CallState) -> str: ...
    def queue_key(self, state: CallState) -> str: ...
    def audio(self, path: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Voice:
    name: str = "Google.th-TH-Standard-A"
    language: str = "th-TH"


class _Vars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def with_constants(flow: Flow, values: Mapping[str, str]) -> Flow:
    """The flow with ``{name}`` filled in every prompt for names known when the process
    starts (the hours, the retention period), so those prompts stay free of call data and
    their answers can be stored once (``Answers``). Other names are left for the call."""
    pattern = re.compile(r"\{(" + "|".join(map(re.escape, values)) + r")\}")

    def filled(prompt: Prompt) -> Prompt:
        text = pattern.sub(lambda m: values[m.group(1)], prompt.text) if values else prompt.text
        return prompt if text == prompt.text else replace(prompt, text=text)

    nodes = {node_id: replace(node, prompt=filled(node.prompt), invalid=filled(node.invalid),
                              confirm=filled(node.confirm), pick=filled(node.pick),
                              hold=filled(node.hold))
             for node_id, node in flow.nodes.items()}  # fmt: skip
    notice = filled(flow.transfer_notice)
    return replace(flow, nodes=nodes, no_input=filled(flow.no_input),
                   invalid=filled(flow.invalid), transfer_notice=notice)  # fmt: skip


def fill(text: str, data: Mapping[str, str]) -> str:
    """Put the call's data into a prompt; unknown names become empty (the linter flags them)."""
    return text.format_map(_Vars(data))


class Renderer:
    def __init__(
        self,
        flow: Flow,
        voice: Voice,
        urls: Urls,
        recording_max_s: int,
        document: Callable[[], Response] = Response,
    ) -> None:
        self.flow = flow
        self.document = document
        self.voice = voice
        self.urls = urls
        self.recording_max_s = recording_max_s

    def play(self, outcome: Play) -> Response:
        response = self.document()
        state = outcome.state
        node = self.flow.node(state.node)
        lead_in = outcome.lead_in
        if node.kind not in GATHERING:  # Record, Enqueue, Dial, Hangup cannot hold a <Say>
            for prompt in lead_in:
                self._speak(response, prompt, state.data)
            lead_in = ()
        getattr(self, f"_{node.kind}")(response, node, state, lead_in)
        return response

    def hold(self, node: Node, state: CallState, data: Mapping[str, str]) -> Response:
        """What a queued caller hears while waiting (Twilio re-requests it when it ends): the
        message, then the hold audio or a short gap; with a ``leave`` node, inside a Gather so
        a key takes the caller out of the queue at any moment."""
        response = self.document()
        parent: Element = response
        if node.leave:
            parent = response.gather(input="dtmf", action=self.urls.queue_key(state),
                                     method="POST", num_digits=1, timeout=HOLD_GAP_S)  # fmt: skip
        self._speak(parent, node.hold, data)
        if node.hold_audio:
            parent.play(self.urls.audio(node.hold_audio))
        elif not node.leave:
            response.pause(length=HOLD_PAUSE_S)
        return response

    def leave_queue(self) -> Response:
        response = self.document()
        response.leave()
        return response

    def apology(self, text: str, queue: str, action: str) -> Response:
        """Used when anything fails: apologise and put the caller through to agents."""
        response = self.document()
        response.say(text, voice=self.voice.name, language=self.voice.language)
        response.enqueue(queue, action=action, method="POST")
        return response

    # Node kinds -----------------------------------------------------------------------

    # Gathering nodes speak what leads to them inside their <Gather>: a key interrupts the
    # greeting, a notice or an answer, and 0 works from the first word.

    def _menu(
        self, response: Response, node: Node, state: CallState, lead_in: tuple[Prompt, ...] = ()
    ) -> None:
        gather = self._gather(response, node, state, num_digits=1, timeout=MENU_TIMEOUT_S)
        for prompt in (*lead_in, node.prompt):
            self._speak(gather, prompt, state.data)
        response.redirect(self.urls.step(state, timed_out=True), method="POST")

    _survey = _menu

    def _collect(
        self, response: Response, node: Node, state: CallState, lead_in: tuple[Prompt, ...] = ()
    ) -> None:
        if state.confirming is not None and PICK_PAGE in state.data:
            # "#" (don't know) arrives as an empty answer: Twilio must still call the action.
            gather = self._gather(response, node, state, num_digits=1, timeout=MENU_TIMEOUT_S,
                                  action_on_empty_result=node.unknown or None)  # fmt: skip
            self._speak_all(gather, (*lead_in, node.pick), state.data)
        elif state.confirming is not None:
            gather = self._gather(response, node, state, num_digits=1, timeout=MENU_TIMEOUT_S)
            self._speak_all(gather, (*lead_in, node.confirm), state.data)
        else:
            digits = FIXED_DIGITS.get(node.validator or "")
            # "# alone skips": Twilio calls the action on an empty result only when asked to.
            gather = self._gather(
                response, node, state, num_digits=digits, timeout=COLLECT_TIMEOUT_S,
                finish_on_key="#", action_on_empty_result=node.optional or node.unknown or None,
            )  # fmt: skip
            self._speak_all(gather, (*lead_in, node.prompt), state.data)
        response.redirect(self.urls.step(state, timed_out=True), method="POST")

    def _record(
        self, response: Response, node: Node, state: CallState, _lead: tuple[Prompt, ...] = ()
    ) -> None:
        self._speak(response, node.prompt, state.data)
        response.record(
            action=self.urls.step(state),
            method="POST",
            max_length=node.max_length or self.recording_max_s,
            timeout=RECORD_SILENCE_S,
            finish_on_key="#",
            play_beep=True,
            recording_status_callback=self.urls.recording_status(state),
            recording_status_callback_method="POST",
            recording_status_callback_event="completed absent",
        )
        # An empty recording does not call the action; Twilio falls through to this.
        response.redirect(self.urls.step(state, timed_out=True), method="POST")

    def _enqueue(
        self, response: Response, node: Node, state: CallState, _lead: tuple[Prompt, ...] = ()
    ) -> None:
        self._speak(response, node.prompt, state.data)
        response.enqueue(
            node.queue,
            action=self.urls.queue_result(state),
            method="POST",
            wait_url=self.urls.wait(state),
            wait_url_method="POST",
        )

    def _transfer(
        self, response: Response, node: Node, state: CallState, _lead: tuple[Prompt, ...] = ()
    ) -> None:
        self._speak(response, node.prompt, state.data)
        response.dial(
            node.number, action=self.urls.step(state), method="POST", timeout=node.timeout
        )

    def _hangup(
        self, response: Response, node: Node, state: CallState, _lead: tuple[Prompt, ...] = ()
    ) -> None:
        self._speak(response, node.prompt, state.data)
        response.hangup()

    # Pieces ---------------------------------------------------------------------------

    def _gather(
        self,
        response: Response,
        node: Node,
        state: CallState,
        *,
        num_digits: int | None,
        timeout: int,
        finish_on_key: str | None = None,
        action_on_empty_result: bool | None = None,
    ) -> Element:
        speech = bool(node.speech) and state.confirming is None
        gather = response.gather(
            input="dtmf speech" if speech else "dtmf",
            action=self.urls.step(state),
            method="POST",
            timeout=timeout,
            num_digits=num_digits,
            finish_on_key=finish_on_key,
            action_on_empty_result=action_on_empty_result,
            language=self.voice.language if speech else None,
            hints=", ".join(node.speech) if speech else None,
            speech_timeout=3 if speech else None,
            speech_model="experimental_utterances" if speech else None,
        )
        return gather

    def _speak_all(
        self, parent: Element, prompts: tuple[Prompt, ...], data: Mapping[str, str]
    ) -> None:
        for prompt in prompts:
            self._speak(parent, prompt, data)

    def _speak(self, parent: Element, prompt: Prompt, data: Mapping[str, str]) -> None:
        if prompt.audio:
            parent.play(self.urls.audio(prompt.audio))
        elif prompt.text:
            parent.say(fill(prompt.text, data), voice=self.voice.name, language=self.voice.language)
