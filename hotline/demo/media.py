"""Twilio's recording media, played by the app itself in the embedded demo.

With no Twilio account, the phone simulator uploads the caller's words (a WAV file) here and
hands the app a RecordingUrl on this host; the app's TWILIO_API_BASE_URL points here by default
when embedded, so the real fetch job downloads, verifies and stores it exactly as in production.
Registered only with the simulator (embedded or training mode); Basic auth with the account SID
and auth token, as Twilio. The browser phone (hotline/simulator_web.py) saves here directly.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, request
from flask.typing import ResponseReturnValue

from hotline.runtime import runtime
from recordings.storage import SID

bp = Blueprint("simulator_media", __name__, url_prefix="/simulator/twilio/2010-04-01")
MAX_BYTES = 20 * 1024 * 1024


def _authorised() -> bool:
    auth = request.authorization
    settings = runtime().settings
    return (
        auth is not None
        and hmac.compare_digest(auth.username or "", settings.twilio_account_sid)
        and hmac.compare_digest(auth.password or "", settings.twilio_auth_token)
    )


def _path(account: str, sid: str) -> Path:
    settings = runtime().settings
    if account != settings.twilio_account_sid or not SID.match(sid):
        abort(404)
    return settings.instance_dir / "simulator-media" / f"{sid}.wav"


def save_media(sid: str, body: bytes) -> None:
    """Put a simulated caller's words (a WAV file) where the fetch job will download them."""
    path = _path(runtime().settings.twilio_account_sid, sid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


@bp.route("/Accounts/<account>/Recordings/<sid>", methods=["GET", "PUT"])
@bp.route("/Accounts/<account>/Recordings/<sid>.wav", methods=["GET"])
def media(account: str, sid: str) -> ResponseReturnValue:
    if not _authorised():
        return Response(
            '{"code": 20003, "message": "Authenticate"}', 401, mimetype="application/json"
        )
    path = _path(account, sid)
    if request.method == "PUT":
        body = request.get_data(cache=False)
        if not body or len(body) > MAX_BYTES:
            abort(400)
        save_media(sid, body)
        return Response(status=201)
    if not path.is_file():
        abort(404)
    return Response(path.read_bytes(), mimetype="audio/x-wav")


@bp.delete("/Accounts/<account>/Recordings/<sid>.json")
def delete_media(account: str, sid: str) -> ResponseReturnValue:
    if not _authorised():
        return Response(status=401)
    _path(account, sid).unlink(missing_ok=True)
    return Response(status=204)


for _view in (media, delete_media):
    _view.auth_scheme = "twilio-basic"  # type: ignore[attr-defined]


def init_simulator_media(app: Flask) -> None:
    if runtime(app).settings.simulator_enabled:
        app.register_blueprint(bp)
