"""A phone that calls the hotline the way Twilio would: signed webhooks, TwiML run verb by verb.

Used by the tests, the ``hotline call`` command and training: no Twilio account needed. It
posts the parameters Twilio posts, signs them with the auth token exactly as Twilio does, and
plays the TwiML it gets back: <Say> is heard, <Gather> takes the next scripted input, <Record>
posts a recording, <Enqueue> waits for an agent, and the status callback closes the call.

Script items: ``"1"`` or ``"50200#"`` (keys; a trailing # ends the input), ``"#"`` (only #),
``""`` (silence: the caller presses nothing), ``"speech:ร้องเรียน"``, ``"record"`` or
``"record:5"`` (speak for 5 seconds), ``"hangup"`` (hang up now), ``"record-hangup"`` (speak,
then hang up instead of pressing #).
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import struct
import time
import urllib.error
import urllib.request
import wave
import xml.etree.ElementTree as ET  # Element type only; parsing uses defusedxml
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from defusedxml.ElementTree import fromstring as parse_xml
from twilio.request_validator import RequestValidator

MAX_REQUESTS = 200  # a call that needs more is stuck in a loop


class Transport(Protocol):
    def post(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str]: ...


class HttpTransport:
    """Posts over HTTP to a running app, as Twilio does (``hotline call``)."""

    def put(self, url: str, body: bytes, auth: tuple[str, str]) -> None:
        """Upload media (the simulated caller's recording) with Basic auth."""
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers = {"Content-Type": "audio/x-wav", "Authorization": f"Basic {token}"}
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=15):  # noqa: S310 - our own app
            pass

    def __init__(self, timeout_s: float = 15.0) -> None:
        self.timeout_s = timeout_s  # Twilio's own limit for a webhook answer

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        body = urlencode(params).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


@dataclass
class Exchange:
    url: str
    params: dict[str, str]
    status: int
    body: str


@dataclass
class Transcript:
    call_sid: str
    heard: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    ended_by: str = ""

    def said(self) -> str:
        return "\n".join(self.heard)


class HangUp(Exception):
    """The scripted caller hangs up."""


def tone_wav(seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A real mono 16-bit WAV of a quiet tone: the simulated caller's words."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(b"".join(struct.pack("<h", (n * 37) % 2000 - 1000) for n in range(frames)))
    return buffer.getvalue()


def recorded_audio(item: str) -> tuple[bytes, int]:
    """The audio for a script item: ``record`` (20 s), ``record:5`` (5 s) or ``record:file.wav``."""
    spec = item.split(":", 1)[1] if ":" in item else "20"
    if spec.endswith(".wav"):
        data = Path(spec).read_bytes()
        with wave.open(io.BytesIO(data)) as clip:
            return data, round(clip.getnframes() / clip.getframerate())
    seconds = int(spec) if spec.isdecimal() else 20
    return tone_wav(min(seconds, 30)), seconds


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class QueueBehaviour:
    """In the agent queue an agent answers after ``wait_s``, or the caller gives up.

    ``live``: wait for a real agent instead, as Twilio holds a caller in <Enqueue>: the caller
    asks the app's stand-in queue (``/twilio/sim/queue-member``) every ``poll_s`` until an agent
    takes the call on the desk and ends it, or hangs up after ``timeout_s`` of waiting.
    """

    answered: bool = True
    wait_s: int = 12
    live: bool = False
    timeout_s: float = 120.0
    poll_s: float = 0.5


class PhoneSimulator:
    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        auth_token: str,
        account_sid: str = "AC" + "0" * 32,
        caller: str = "+66812345678",
        called: str = "1567",
        media_base_url: str = "https://api.twilio.com",
        check: Callable[[Exchange], None] | None = None,
        upload: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.caller = caller
        self.called = called
        self.media_base_url = media_base_url.rstrip("/")
        self.check = check
        self.upload = upload  # where the caller's words are put for the app to fetch, if anywhere

    # Public --------------------------------------------------------------------------------

    def call(
        self,
        script: Iterable[str],
        *,
        queue: QueueBehaviour | None = None,
        call_sid: str | None = None,
    ) -> Transcript:
        transcript = Transcript(call_sid or new_sid("CA"))
        run = _Run(self, transcript, iter(script), queue or QueueBehaviour())
        try:
            run.start()
            transcript.ended_by = transcript.ended_by or "twiml-end"
        except HangUp:
            transcript.ended_by = "caller"
        run.status_callback()
        return transcript

    def queue_member(self, call_sid: str) -> str:
        """The embedded demo's queue: waiting, bridged (to a desk, audio simulated), ended, gone."""
        url = f"{self.base_url}/twilio/sim/queue-member"
        params = {"CallSid": call_sid, "AccountSid": self.account_sid}
        status, body = self.transport.post(url, params, self.sign(url, params))
        if status != 200:
            raise RuntimeError(f"{url} answered HTTP {status}")
        state: str = json.loads(body)["state"]
        return state

    def caller_left(self, call_sid: str) -> None:
        """Tell the embedded demo's queue the caller hung up: a desk bridged to them (audio
        simulated) learns the call ended, as a real agent's leg ends with the caller's."""
        url = f"{self.base_url}/twilio/sim/caller-left"
        params = {"CallSid": call_sid, "AccountSid": self.account_sid}
        status, _ = self.transport.post(url, params, self.sign(url, params))
        if status != 200:
            raise RuntimeError(f"{url} answered HTTP {status}")

    def sign(self, url: str, params: dict[str, str]) -> dict[str, str]:
        return {"X-Twilio-Signature": self.validator.compute_signature(url, params)}

    def post(self, transcript: Transcript, url: str, params: dict[str, str]) -> Exchange:
        status, body = self.transport.post(url, params, self.sign(url, params))
        exchange = Exchange(url, params, status, body)
        transcript.exchanges.append(exchange)
        if self.check is not None:
            self.check(exchange)
        return exchange


class _Run:
    """One call in progress."""

    def __init__(self, phone: PhoneSimulator, transcript: Transcript, script: Iterator[str],
                 queue: QueueBehaviour) -> None:  # fmt: skip
        self.phone = phone
        self.transcript = transcript
        self.script = script
        self.queue = queue
        self.sequence = 0
        self.seconds = 0

    def params(self, **extra: str) -> dict[str, str]:
        base = {
            "CallSid": self.transcript.call_sid,
            "AccountSid": self.phone.account_sid,
            "From": self.phone.caller,
            "To": self.phone.called,
            "Caller": self.phone.caller,
            "Called": self.phone.called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        base.update(extra)
        return base

    def start(self) -> None:
        self.fetch(f"{self.phone.base_url}/twilio/voice", self.params(CallStatus="ringing"))

    def fetch(self, url: str, params: dict[str, str]) -> None:
        self.execute(self.fetch_document(url, params))

    def fetch_document(self, url: str, params: dict[str, str]) -> ET.Element:
        if len(self.transcript.exchanges) >= MAX_REQUESTS:
            raise RuntimeError(f"more than {MAX_REQUESTS} requests: the call loops")
        exchange = self.phone.post(self.transcript, url, params)
        if exchange.status != 200:
            raise RuntimeError(f"{url} answered HTTP {exchange.status}")
        root: ET.Element = parse_xml(exchange.body)
        return root

    def execute(self, response: ET.Element) -> None:
        for verb in response:
            if self.verb(verb):
                return
        self.transcript.ended_by = "twiml-end"

    def verb(self, verb: ET.Element) -> bool:
        """Run one verb; True when it handed control to another document (or ended the call)."""
        match verb.tag:
            case "Say":
                self.hear(verb.text or "")
            case "Play":
                self.hear(f"[audio {verb.text}]")
            case "Pause":
                self.seconds += int(verb.get("length", "1"))
            case "Gather":
                return self.gather(verb)
            case "Record":
                return self.record(verb)
            case "Redirect":
                self.fetch(self.absolute(verb.text or ""), self.params())
                return True
            case "Enqueue":
                return self.enqueue(verb)
            case "Dial":
                self.fetch(
                    self.absolute(verb.get("action", "")), self.params(DialCallStatus="completed")
                )
                return True
            case "Hangup":
                self.transcript.ended_by = "hangup"
                return True
            case _:
                raise ValueError(f"the simulator does not know <{verb.tag}>")
        return False

    def hear(self, text: str) -> None:
        self.transcript.heard.append(text)
        self.seconds += max(1, len(text) // 12)

    def next_input(self) -> str:
        item = next(self.script, "hangup")
        if item == "hangup":
            raise HangUp
        return item

    def gather(self, verb: ET.Element) -> bool:
        for child in verb:
            self.verb(child)
        item = self.next_input()
        if item in ("", "#") and verb.get("actionOnEmptyResult") != "true":
            return False  # nothing keyed: Twilio falls through to the next verb
        self.seconds += 3
        self.fetch(self.absolute(verb.get("action", "")), self.params(**_keyed(item)))
        return True

    def record(self, verb: ET.Element) -> bool:
        item = self.next_input()
        if not item.startswith("record"):
            return False  # said nothing: no recording, Twilio falls through
        audio, seconds = recorded_audio(item)
        sid = new_sid("RE")
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": f"{self.phone.media_base_url}/2010-04-01/Accounts/"
            f"{self.phone.account_sid}/Recordings/{sid}",
            "RecordingDuration": str(seconds),
        }
        if self.phone.upload is not None:
            self.phone.upload(recording["RecordingUrl"], audio)
        self.seconds += seconds
        hung_up = item == "record-hangup"
        digits = "hangup" if hung_up else "#"
        action = self.phone.post(
            self.transcript, self.absolute(verb.get("action", "")),
            self.params(**recording, Digits=digits),
        )  # fmt: skip
        # Twilio posts the recording status callback on its own schedule; here, right after.
        callback = verb.get("recordingStatusCallback")
        if callback:
            status = {**recording, "RecordingStatus": "completed", "RecordingChannels": "1",
                      "RecordingSource": "RecordVerb"}  # fmt: skip
            self.phone.post(self.transcript, self.absolute(callback), self.params(**status))
        if hung_up:
            raise HangUp
        if action.status != 200:
            raise RuntimeError(f"{action.url} answered HTTP {action.status}")
        self.execute(parse_xml(action.body))
        return True

    def enqueue(self, verb: ET.Element) -> bool:
        wait_url = verb.get("waitUrl")
        if wait_url:
            hold = self.phone.post(self.transcript, self.absolute(wait_url),
                                   self.params(QueuePosition="1", QueueTime="0",
                                               CurrentQueueSize="1"))  # fmt: skip
            for child in parse_xml(hold.body):  # the hold message may sit inside a Gather
                for said in (child, *child) if child.tag == "Gather" else (child,):
                    if said.tag == "Say":
                        self.hear(said.text or "")
        action = self.absolute(verb.get("action", ""))
        if self.queue.live:
            return self.wait_for_agent(action)
        if not self.queue.answered:
            self.phone.post(self.transcript, action, self.queue_left("hangup", self.queue.wait_s))
            raise HangUp
        self.hear("[agent answers]")
        self.seconds += self.queue.wait_s + 60
        self.fetch(action, self.queue_left("bridged", self.queue.wait_s))
        return True

    def wait_for_agent(self, action: str) -> bool:
        """Hold until an agent takes the call on the desk and hangs up (or give up waiting)."""
        started = time.monotonic()
        waited: int | None = None
        state = "waiting"
        while time.monotonic() - started < self.queue.timeout_s:
            state = self.phone.queue_member(self.transcript.call_sid)
            if state in ("bridged", "ended") and waited is None:
                waited = round(time.monotonic() - started)
                self.hear("[agent answers: audio simulated]")
            if state in ("ended", "gone"):
                break
            time.sleep(self.queue.poll_s)
        self.seconds += round(time.monotonic() - started)
        if waited is None:
            self.phone.post(self.transcript, action, self.queue_left("hangup", self.seconds))
            raise HangUp
        self.fetch(action, self.queue_left("bridged", waited))
        return True

    def queue_left(self, result: str, waited_s: int) -> dict[str, str]:
        """The <Enqueue> action's parameters: ``bridged`` (an agent took the call) or ``hangup``."""
        queue_sid = {"QueueSid": new_sid("QU")} if result == "bridged" else {}
        return self.params(QueueResult=result, QueueTime=str(waited_s), **queue_sid)

    def status_callback(self) -> None:
        self.sequence += 1
        params = self.params(
            CallStatus="completed",
            CallDuration=str(self.seconds),
            SequenceNumber=str(self.sequence),
            CallbackSource="call-progress-events",
        )
        self.phone.post(self.transcript, f"{self.phone.base_url}/twilio/status", params)

    def absolute(self, url: str) -> str:
        if urlsplit(url).scheme:
            return url
        return self.phone.base_url + ("" if url.startswith("/") else "/") + url


def _keyed(item: str) -> dict[str, str]:
    """The Gather action parameters for one scripted input (# ends input and is not sent)."""
    if item.startswith("speech:"):
        return {"SpeechResult": item.removeprefix("speech:"), "Confidence": "0.9"}
    return {"Digits": item.removesuffix("#")}


# One caller action at a time (the browser phone) ------------------------------------------------

# What a step-wise call waits for: keys, the caller's words, an agent in the queue ("queue"),
# the agent to hang up ("agent": bridged to a desk, audio simulated), or nothing any more.
WAITS = ("keys", "record", "queue", "agent", "ended")
IN_QUEUE = ("queue", "agent")


@dataclass
class CallProgress:
    """Where a step-wise call stands between the caller's actions; JSON, kept server-side.

    ``pending`` is the rest of the current TwiML document, its first verb the one that waits
    (a <Gather>, a <Record> or an <Enqueue>); ``started`` is the wall-clock start (epoch s),
    ``queued`` when the caller entered the queue, ``waited_s`` how long until an agent took it.
    """

    call_sid: str
    started: float
    waiting: str = "ended"
    pending: str = ""
    queued: float = 0.0
    waited_s: int | None = None

    def to_dict(self) -> dict[str, str | float | None]:
        return {"call_sid": self.call_sid, "started": self.started, "waiting": self.waiting,
                "pending": self.pending, "queued": self.queued,
                "waited_s": self.waited_s}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, str | float | None]) -> CallProgress:
        waited = data.get("waited_s")
        return cls(str(data["call_sid"]), float(data["started"] or 0), str(data["waiting"]),
                   str(data["pending"]), float(data.get("queued") or 0),
                   None if waited is None else int(waited))  # fmt: skip


@dataclass
class Step:
    """What the caller heard since their last action, and what the call waits for now."""

    heard: list[str]
    progress: CallProgress
    num_digits: int | None = None  # for "keys": the <Gather> ends by itself after this many
    finish_on_key: str = "#"


class StepwiseCall:
    """The call PhoneSimulator.call makes, driven by a person instead of a script.

    Each method takes the caller's next action (keys, words, hanging up), posts the signed
    webhooks Twilio would, runs the TwiML until the call waits for the caller again, and says
    what was heard. ``save_media(sid, wav)`` puts the caller's words where the app fetches them.
    """

    def __init__(
        self,
        phone: PhoneSimulator,
        save_media: Callable[[str, bytes], None],
        clock: Callable[[], float],
    ) -> None:
        self.phone = phone
        self.save_media = save_media
        self.clock = clock

    def dial(self) -> Step:
        progress = CallProgress(new_sid("CA"), self.clock())
        run = self._run(progress)
        document = run.fetch_document(
            f"{self.phone.base_url}/twilio/voice", run.params(CallStatus="ringing")
        )
        return self._play(run, progress, list(document))

    def keys(self, progress: CallProgress, digits: str) -> Step:
        gather = self._awaited(progress, "keys")
        run, rest = self._run(progress), self._rest(progress)
        if digits in ("", "#") and gather.get("actionOnEmptyResult") != "true":
            return self._play(run, progress, rest)  # nothing keyed: fall through, as Twilio
        url = run.absolute(gather.get("action", ""))
        return self._play(
            run, progress, list(run.fetch_document(url, run.params(**_keyed(digits))))
        )

    def record(self, progress: CallProgress, wav: bytes) -> Step:
        verb = self._awaited(progress, "record")
        run = self._run(progress)
        with wave.open(io.BytesIO(wav)) as clip:  # refuses what is not a WAV file
            seconds = max(1, round(clip.getnframes() / clip.getframerate()))
        sid = new_sid("RE")
        self.save_media(sid, wav)
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": f"{self.phone.media_base_url}/2010-04-01/Accounts/"
            f"{self.phone.account_sid}/Recordings/{sid}",
            "RecordingDuration": str(seconds),
        }
        document = run.fetch_document(
            run.absolute(verb.get("action", "")), run.params(**recording, Digits="#")
        )
        callback = verb.get("recordingStatusCallback")
        if callback:
            status = {**recording, "RecordingStatus": "completed", "RecordingChannels": "1",
                      "RecordingSource": "RecordVerb"}  # fmt: skip
            self.phone.post(run.transcript, run.absolute(callback), run.params(**status))
        return self._play(run, progress, list(document))

    def hang_up(self, progress: CallProgress) -> Step:
        """The caller hangs up: in the queue that is an abandon; talking to an agent, the end
        of a bridged call (Twilio posts the <Enqueue> action either way)."""
        run = self._run(progress)
        if progress.waiting in IN_QUEUE:
            self.phone.caller_left(progress.call_sid)  # an agent may have the call already
            enqueue = self._awaited(progress, *IN_QUEUE)
            result, waited = self._queue_result(progress)
            self.phone.post(run.transcript, run.absolute(enqueue.get("action", "")),
                            run.queue_left(result, waited))  # fmt: skip
        return self._end(run, progress, [])

    def queue_wait(self, progress: CallProgress) -> Step:
        """Ask the app's stand-in queue about the waiting caller, as PhoneSimulator does live.

        An agent took the call on the desk: the caller now waits for the agent ("agent"; no
        audio is bridged). The agent hung up: the <Enqueue> action is posted as bridged, with
        the wait, and the call goes on (the survey) or ends. The caller left the queue some
        other way: the call ends as an abandon.
        """
        enqueue = self._awaited(progress, *IN_QUEUE)
        member = self.phone.queue_member(progress.call_sid)
        if member in ("bridged", "ended") and progress.waited_s is None:
            progress.waited_s = round(self.clock() - progress.queued)
            progress.waiting = "agent"
        if member not in ("ended", "gone"):
            return Step([], progress)
        run = self._run(progress)
        result, waited = self._queue_result(progress)
        url = run.absolute(enqueue.get("action", ""))
        document = run.fetch_document(url, run.queue_left(result, waited))
        return self._play(run, progress, list(document) if result == "bridged" else [])

    # Running TwiML ---------------------------------------------------------------------------

    def _run(self, progress: CallProgress) -> _Run:
        return _Run(self.phone, Transcript(progress.call_sid), iter(()), QueueBehaviour())

    def _play(self, run: _Run, progress: CallProgress, verbs: list[ET.Element]) -> Step:
        """Run verbs until one waits for the caller; follow <Redirect> and <Dial> actions."""
        heard: list[str] = []
        while verbs:
            verb = verbs.pop(0)
            match verb.tag:
                case "Say" | "Play" | "Pause":
                    heard.extend(_heard(verb))
                case "Gather":
                    for child in verb:
                        heard.extend(_heard(child))
                    return self._wait(progress, "keys", [verb, *verbs], heard)
                case "Record":
                    return self._wait(progress, "record", [verb, *verbs], heard)
                case "Enqueue":
                    heard.extend(self._hold(run, verb))
                    progress.queued, progress.waited_s = self.clock(), None
                    return self._wait(progress, "queue", [verb], heard)
                case "Redirect":
                    verbs = list(run.fetch_document(run.absolute(verb.text or ""), run.params()))
                case "Dial":
                    url = run.absolute(verb.get("action", ""))
                    verbs = list(run.fetch_document(url, run.params(DialCallStatus="completed")))
                case "Hangup":
                    break
                case _:
                    raise ValueError(f"the simulator does not know <{verb.tag}>")
        return self._end(run, progress, heard)

    def _hold(self, run: _Run, enqueue: ET.Element) -> list[str]:
        wait_url = enqueue.get("waitUrl")
        if not wait_url:
            return []
        hold = self.phone.post(run.transcript, run.absolute(wait_url),
                               run.params(QueuePosition="1", QueueTime="0",
                                          CurrentQueueSize="1"))  # fmt: skip
        return [line for child in parse_xml(hold.body)
                for part in ((child, *child) if child.tag == "Gather" else (child,))
                for line in _heard(part)]  # fmt: skip

    def _wait(
        self, progress: CallProgress, waiting: str, verbs: list[ET.Element], heard: list[str]
    ) -> Step:
        document = ET.Element("Response")
        document.extend(verbs)
        progress.waiting, progress.pending = waiting, ET.tostring(document, encoding="unicode")
        first = verbs[0]
        num_digits = first.get("numDigits")
        return Step(heard, progress, int(num_digits) if num_digits and num_digits.isdecimal()
                    else None, first.get("finishOnKey", "#"))  # fmt: skip

    def _end(self, run: _Run, progress: CallProgress, heard: list[str]) -> Step:
        run.seconds = round(self.clock() - progress.started)
        run.status_callback()
        progress.waiting, progress.pending = "ended", ""
        return Step(heard, progress)

    def _awaited(self, progress: CallProgress, *waiting: str) -> ET.Element:
        if progress.waiting not in waiting:
            raise CallStateError(f"the call waits for {progress.waiting}, not {waiting}")
        return next(iter(parse_xml(progress.pending)))

    def _queue_result(self, progress: CallProgress) -> tuple[str, int]:
        """Bridged with the wait until the agent took the call, or hung up after waiting."""
        if progress.waited_s is not None:
            return "bridged", progress.waited_s
        return "hangup", round(self.clock() - progress.queued)

    def _rest(self, progress: CallProgress) -> list[ET.Element]:
        return list(parse_xml(progress.pending))[1:]


class CallStateError(ValueError):
    """The caller did something the call is not waiting for (a stale page, a double click)."""


def _heard(verb: ET.Element) -> list[str]:
    if verb.tag == "Say":
        return [verb.text or ""]
    if verb.tag == "Play":
        return [f"[audio {verb.text}]"]
    return []
