"""The app factory: builds the runtime, registers every part, puts the Twilio router in front."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, redirect, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import configure_mappers
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings
from config.logging import configure_logging, request_id_var
from hotline.api.open311 import init_open311
from hotline.api.v1 import init_api
from hotline.auth import init_auth
from hotline.channels.line_webhook import init_line
from hotline.console.desk import bp as desk_bp
from hotline.console.errors import init_error_pages
from hotline.console.home import bp as console_bp
from hotline.console.new_ticket import bp as new_ticket_bp
from hotline.console.referrals import bp as referrals_bp
from hotline.console.ticket_list import bp as ticket_list_bp
from hotline.console.ticket_page import bp as ticket_page_bp
from hotline.console.training import init_training
from hotline.demo.media import init_simulator_media
from hotline.demo.sim_queue import SimulatedQueue
from hotline.demo.simulator_web import init_simulator
from hotline.health import bp as health_bp
from hotline.i18n import init_i18n
from hotline.metrics.live import init_live
from hotline.metrics.views import init_metrics
from hotline.public.track import init_track
from hotline.runtime import EXTENSION_KEY, Runtime, build_runtime, runtime
from hotline.twilio.agent import AgentWebhooks
from hotline.twilio.messaging import MessagingWebhooks
from hotline.twilio.router import MAX_BODY_BYTES, TwilioWebhooks
from hotline.twilio.security import NoSessionForWebhooks
from hotline.twilio.voice import VoiceWebhooks

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the application. Nothing happens at import time; everything happens here.

    ``settings`` defaults to :meth:`Settings.from_env`, which raises SettingsError naming the
    variable when a value is wrong or production lacks a secret.
    """
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    app = Flask("hotline", instance_path=str(settings.instance_dir.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_AS_ASCII=False,
    )
    app.session_interface = NoSessionForWebhooks()
    if settings.proxy_hops:
        # Client address and scheme from the trusted proxies only (sign-in limits, audit IPs).
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = build_runtime(settings, app)
    _register_blueprints(app)  # the Twilio router goes in front of Flask here
    _register_request_id(app)  # outermost: every request, webhook or page, gets its id
    # Relationships are resolved now, once per process, not inside some worker's first call.
    configure_mappers()
    _warn_about_unsafe_settings(settings)
    return app


def _register_blueprints(app: Flask) -> None:
    rt = runtime(app)
    app.register_blueprint(health_bp)
    init_auth(app)
    init_i18n(app)
    app.register_blueprint(console_bp)
    app.register_blueprint(ticket_list_bp)
    app.register_blueprint(ticket_page_bp)
    app.register_blueprint(new_ticket_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(desk_bp)
    init_metrics(app)
    init_live(app)
    init_api(app)
    init_open311(app)
    init_line(app)
    init_track(app)
    init_simulator_media(app)
    init_simulator(app)
    init_training(app)
    init_error_pages(app)  # last: it wraps the status handlers registered above
    _serve_twilio(app, rt)

    @app.get("/")
    def index() -> ResponseReturnValue:
        return redirect(url_for("console.home"))


def _serve_twilio(app: Flask, rt: Runtime) -> None:
    """Every /twilio/* URL behind the one router, in front of Flask."""
    routes = {
        **VoiceWebhooks(rt).routes(),
        **AgentWebhooks(rt).routes(),
        **MessagingWebhooks(rt).routes(),
    }
    if rt.settings.telephony_simulated:  # the demo's stand-in for Twilio's queue
        routes.update(SimulatedQueue(rt).routes())
    check = rt.signature
    router = TwilioWebhooks(
        app.wsgi_app,
        routes,
        public_base_url=rt.settings.public_base_url,
        verify=check.valid if check.enabled else None,
        max_content_length=min(app.config["MAX_CONTENT_LENGTH"], MAX_BODY_BYTES),
    )
    rt.webhook_paths = router.paths
    app.wsgi_app = router  # type: ignore[method-assign]


def _register_request_id(app: Flask) -> None:
    # A WSGI wrapper rather than three Flask hooks: it runs on every webhook, so it stays cheap.
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]


class RequestIdMiddleware:
    """Tags every request's log lines with an id and echoes it in ``X-Request-Id``.

    The id is the proxy's ``X-Request-Id`` when it sends a sane one, else a new one: a log
    correlation id, not a secret, so no system call for randomness per request.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = _sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or (
            f"{random.getrandbits(64):016x}"
        )

        def start_with_id(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            if not any(name.lower() == "x-request-id" for name, _ in headers):
                headers.append(("X-Request-Id", request_id))
            return start_response(status, headers, *exc)

        token = request_id_var.set(request_id)
        try:
            return self.app(environ, start_with_id)
        finally:
            request_id_var.reset(token)


def _sane_request_id(value: str | None) -> str | None:
    if value and len(value) <= 128 and value.isascii() and value.isprintable():
        return value
    return None


def _warn_about_unsafe_settings(settings: Settings) -> None:
    if not settings.twilio_signature_check:
        log.warning(
            "TWILIO SIGNATURE CHECK IS OFF: anyone can post to /twilio/*. "
            "This is allowed only in the embedded demo; never expose this server."
        )
