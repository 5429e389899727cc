"""The IVR one process serves: the flow, the sealed-state codec, the URLs Twilio comes back
to, the renderer and the store of answers rendered once. Built once per process from the
settings (``build_ivr``)."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from config import Settings
from hotline.twilio.state import StateCodec
from ivr_flows.engine import CallState, Play
from ivr_flows.loader import load_flow
from ivr_flows.model import Flow, Prompt
from ivr_flows.render import Renderer, Voice, with_constants
from ivr_flows.thai import spoken_hours, spoken_period


class Urls:
    """Where Twilio should come back to, each URL carrying the sealed call state."""

    def __init__(self, base_url: str, codec: StateCodec) -> None:
        self.base_url = base_url.rstrip("/")
        self._codec = codec
        self._last = threading.local()

    def seal(self, state: CallState) -> str:
        """The state's token, sealed once even when several URLs of one answer carry it. The
        memo holds the state weakly: a caller's data is not kept once the answer is sent."""
        last = getattr(self._last, "sealed", None)
        if last is not None and last[0]() is state:
            token: str = last[1]
            return token
        token = self._codec.encode(state)
        self._last.sealed = (weakref.ref(state), token)
        return token

    def to(self, path: str, state: CallState | None = None, **extra: str) -> str:
        # Sealed tokens are URL-safe base64 already: no percent-encoding pass needed.
        parts = [f"s={self.seal(state)}"] if state is not None else []
        parts += [f"{k}={v}" for k, v in extra.items() if v]  # our own plain ASCII values
        query = "&".join(parts)
        return f"{self.base_url}/twilio/{path}" + (f"?{query}" if query else "")

    def step(self, state: CallState, *, timed_out: bool = False) -> str:
        return self.to("step", state, e="timeout" if timed_out else "")

    def recording_status(self, state: CallState) -> str:
        return self.to("recording-status", state)

    def queue_result(self, state: CallState) -> str:
        return self.to("queue-result", state)

    def wait(self, state: CallState) -> str:
        return self.to("wait", state)

    def queue_key(self, state: CallState) -> str:
        return self.to("queue-key", state)

    def audio(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"


STATE_MARK = "~STATE~"  # stands for the sealed state in a stored answer ("~" is not base64url)


class _MarkedUrls(Urls):
    """The app's URLs with STATE_MARK where each call's sealed state goes."""

    def seal(self, state: CallState) -> str:
        return STATE_MARK


class Answers:
    """What the caller hears, rendered once per node when nothing in it depends on the call but
    its sealed state.

    Most steps land on a plain node: a menu, the recording, the queue, whose prompts (and the
    lead-in prompts before them, such as an information message) carry no call data. Its TwiML
    then differs from call to call only in the state sealed into its URLs, so it is rendered
    once with a mark there and each answer is one ``str.replace`` rather than building the same
    document again on every step (docs/operations.md has what it saves). Anything with call
    data in it (a read-back, a prompt that names the caller's district) is rendered afresh.
    The flow's nodes and prompts are finite, so the store is bounded.
    """

    def __init__(self, renderer: Renderer, marked: Renderer, urls: Urls) -> None:
        self._renderer = renderer
        self._marked = marked
        self._urls = urls
        self._plain = {name for name, node in renderer.flow.nodes.items()
                       if all(map(_plain, (node.prompt, node.confirm, node.pick)))}  # fmt: skip
        self._stored: dict[tuple[str, bool, tuple[Prompt, ...]], str] = {}

    def text(self, play: Play) -> str:
        state = play.state
        if state.node not in self._plain or not all(_plain(p) for p in play.lead_in):
            return str(self._renderer.play(play))
        key = (state.node, state.confirming is None, play.lead_in)
        stored = self._stored.get(key)
        if stored is None:
            stored = self._stored[key] = str(self._marked.play(play))
        return stored.replace(STATE_MARK, self._urls.seal(state))


def _plain(prompt: Prompt) -> bool:
    """No call data is filled into it (and it cannot be mistaken for the mark)."""
    return "{" not in prompt.text and STATE_MARK not in prompt.text


@dataclass(frozen=True)
class Ivr:
    """The IVR parts of one process, built once: the flow, the state codec, the renderer."""

    flow: Flow
    codec: StateCodec
    urls: Urls
    renderer: Renderer
    answers: Answers

    @property
    def queue_name(self) -> str:
        """The Twilio queue the flow's agent node puts callers in."""
        return self.flow.node(self.flow.agent).queue or "agents"


def build_ivr(settings: Settings) -> Ivr:
    flow = load_flow(settings.ivr_flow)
    retention = spoken_period(settings.recording_retention_days)
    flow = with_constants(flow, {"hours": spoken_hours(flow.hours), "retention": retention})
    codec = StateCodec(settings.secret_key)
    urls = Urls(settings.public_base_url, codec)
    voice = Voice(settings.tts_voice, settings.tts_language)
    renderer = Renderer(flow, voice, urls, settings.recording_max_seconds)
    marked = Renderer(flow, voice, _MarkedUrls(settings.public_base_url, codec),
                      settings.recording_max_seconds)  # fmt: skip
    return Ivr(flow, codec, urls, renderer, Answers(renderer, marked, urls))
