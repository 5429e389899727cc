"""The browser phone at /simulator: call 1567 from a web page, no Twilio account needed.

The browser never sees the Twilio auth token. It sends the caller's actions (dial, keys, the
recorded words as WAV, hang up) to these endpoints; while the caller waits in the agents' queue
it asks ``/simulator/queue`` whether an agent took (or ended) the call on the desk. The server
drives a StepwiseCall that posts the signed webhooks exactly as Twilio would, in-process, and
answers with what the caller hears. The call in progress is bound to the browser's session (its
handle is in the signed session cookie; the TwiML still to run is kept server-side: Redis when
configured, else this process).
Registered only in the embedded demo and in training mode, never in production.
"""

from __future__ import annotations

import io
import secrets
import time
import wave
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    session,
)
from flask.typing import ResponseReturnValue

from hotline.auth import roles_required
from hotline.demo.call_store import CallStore
from hotline.demo.media import save_media
from hotline.demo.phone import CallProgress, CallStateError, PhoneSimulator, Step, StepwiseCall
from hotline.runtime import runtime
from ticketing.permissions import STAFF

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
SESSION_KEY = "simulator_call"
SIMULATED_CALLER = "+66812345678"


class WsgiTransport:
    """Posts the webhooks to this same app in-process: no network, no second worker needed."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.app.test_client().post(path, data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)


def _store() -> CallStore:
    store = runtime().simulator_calls
    if store is None:  # the blueprint is registered only where the simulator is enabled
        abort(404)
    return store


def _phone() -> StepwiseCall:
    settings = runtime().settings
    phone = PhoneSimulator(
        WsgiTransport(current_app._get_current_object()),  # type: ignore[attr-defined]
        base_url=settings.public_base_url,
        auth_token=settings.twilio_auth_token,
        account_sid=settings.twilio_account_sid,
        caller=SIMULATED_CALLER,
        called=settings.hotline_number,
        media_base_url=settings.twilio_api_base_url,
    )
    return StepwiseCall(phone, save_media, time.time)


# Views ------------------------------------------------------------------------------------------


@bp.get("/")
@roles_required(*STAFF)
def phone_page() -> ResponseReturnValue:
    return render_template("simulator/phone.html", hotline=runtime().settings.hotline_number)


@bp.post("/call")
@roles_required(*STAFF)
def dial() -> ResponseReturnValue:
    number = (request.form.get("number") or "").strip()
    if number != runtime().settings.hotline_number:
        return jsonify(error="wrong_number"), 400
    _forget_current_call()
    step = _phone().dial()
    handle = secrets.token_urlsafe(16)
    session[SESSION_KEY] = handle
    return _answer(handle, step)


@bp.post("/keys")
@roles_required(*STAFF)
def keys() -> ResponseReturnValue:
    digits = request.form.get("digits", "")
    if len(digits) > 32 or any(key not in "0123456789*#" for key in digits):
        return jsonify(error="bad_keys"), 400
    handle, progress = _current_call()
    return _act(handle, lambda: _phone().keys(progress, digits))


@bp.post("/record")
@roles_required(*STAFF)
def record() -> ResponseReturnValue:
    upload = request.files.get("audio")
    audio = upload.read() if upload is not None else b""
    if not _is_wav(audio):
        return jsonify(error="not_wav"), 400
    handle, progress = _current_call()
    return _act(handle, lambda: _phone().record(progress, audio))


@bp.post("/queue")
@roles_required(*STAFF)
def queue_wait() -> ResponseReturnValue:
    """The page asks while its caller waits in the queue: has an agent taken or ended the call?"""
    handle, progress = _current_call()
    return _act(handle, lambda: _phone().queue_wait(progress))


@bp.post("/hangup")
@roles_required(*STAFF)
def hang_up() -> ResponseReturnValue:
    handle, progress = _current_call()
    return _act(handle, lambda: _phone().hang_up(progress))


# Helpers ----------------------------------------------------------------------------------------


def _current_call() -> tuple[str, CallProgress]:
    handle = session.get(SESSION_KEY)
    progress = _store().get(handle) if isinstance(handle, str) else None
    if handle is None or progress is None:
        abort(409, description="No call in progress: dial again.")
    return handle, progress


def _forget_current_call() -> None:
    """A new call replaces the session's old one, which is hung up first (it may be queued)."""
    handle = session.pop(SESSION_KEY, None)
    progress = _store().get(handle) if isinstance(handle, str) else None
    if isinstance(handle, str) and progress is not None:
        _store().delete(handle)
        if progress.waiting != "ended":
            _phone().hang_up(progress)


def _act(handle: str, action: Callable[[], Step]) -> ResponseReturnValue:
    try:
        step = action()
    except CallStateError:
        return jsonify(error="not_waiting_for_that"), 409
    return _answer(handle, step)


def _answer(handle: str, step: Step) -> ResponseReturnValue:
    if step.progress.waiting == "ended":
        _store().delete(handle)
        session.pop(SESSION_KEY, None)
    else:
        _store().put(handle, step.progress)
    return jsonify(
        heard=step.heard,
        waiting=step.progress.waiting,
        num_digits=step.num_digits,
        finish_on_key=step.finish_on_key,
        call_sid=step.progress.call_sid,
        answered=step.progress.waited_s is not None,  # an agent took the call in the queue
    )


def _is_wav(audio: bytes) -> bool:
    try:
        with wave.open(io.BytesIO(audio)) as clip:
            frames: int = clip.getnframes()
    except (wave.Error, EOFError):
        return False
    return frames > 0


def init_simulator(app: Flask) -> None:
    if runtime(app).settings.simulator_enabled:
        app.register_blueprint(bp)
        app.jinja_env.globals["simulator_enabled"] = True  # the header links to it
