"""The 1567 hotline web application: composition root and Flask app factory."""

from __future__ import annotations

import logging
import random

from flask import Flask, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from sqlalchemy.orm import configure_mappers
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings
from config.logging import configure_logging, request_id_var
from hotline.runtime import EXTENSION_KEY, build_runtime
from hotline.twilio_security import NoSessionForWebhooks

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the application. Nothing happens at import time; everything happens here.

    ``settings`` defaults to :meth:`Settings.from_env`, which raises SettingsError naming the
    variable when a value is wrong or production lacks a secret.
    """
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
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
    _register_request_id(app)
    _register_blueprints(app)
    # Relationships are resolved now, once per process, not inside some worker's first call.
    configure_mappers()
    _warn_about_unsafe_settings(settings)
    return app


def _register_blueprints(app: Flask) -> None:
    from hotline.agent_voice import init_agent_voice
    from hotline.api import init_api
    from hotline.auth import init_auth
    from hotline.console import bp as console_bp
    from hotline.console_tickets import bp as tickets_bp
    from hotline.desk import bp as desk_bp
    from hotline.health import bp as health_bp
    from hotline.i18n import init_i18n
    from hotline.messaging import init_messaging
    from hotline.metrics.views import init_metrics
    from hotline.open311 import init_open311
    from hotline.runtime import runtime
    from hotline.simulator_media import init_simulator_media
    from hotline.simulator_web import init_simulator
    from hotline.training_web import init_training
    from hotline.voice import init_voice

    app.register_blueprint(health_bp)
    init_auth(app)
    init_i18n(app)
    app.register_blueprint(console_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(desk_bp)
    init_voice(app, runtime(app))
    init_agent_voice(app)
    init_messaging(app)
    init_metrics(app)
    init_api(app)
    init_open311(app)
    init_simulator_media(app)
    init_simulator(app)
    init_training(app)

    @app.get("/")
    def index() -> ResponseReturnValue:
        return redirect(url_for("console.home"))


def _register_request_id(app: Flask) -> None:
    @app.before_request
    def tag_request() -> None:
        # A log correlation id, not a secret: no system call for randomness per request.
        g.request_id = request.headers.get("X-Request-Id") or f"{random.getrandbits(64):016x}"
        g.request_id_token = request_id_var.set(g.request_id)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
        return response

    @app.teardown_request
    def untag_request(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)


def _warn_about_unsafe_settings(settings: Settings) -> None:
    if not settings.twilio_signature_check:
        log.warning(
            "TWILIO SIGNATURE CHECK IS OFF: anyone can post to /twilio/*. "
            "This is allowed only in the embedded demo; never expose this server."
        )
