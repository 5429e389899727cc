"""The console's language: Thai first, English on request.

Message ids are the Thai text itself (the Thai is the original, reviewed wording); the English
catalog in hotline/translations translates it. Domain data that already carries both languages
(statuses, categories) is shown through :func:`localized` rather than the catalog.

The choice is kept in the session, so it follows the person across pages and survives sign-in.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale

from hotline.auth import local_path

SUPPORTED = ("th", "en")
DEFAULT = "th"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in SUPPORTED else DEFAULT


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def localized(thai: str, english: str | None) -> str:
    """The English form when the console is in English and one exists, else the Thai."""
    return english if english and current_language() == "en" else thai


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    lang = request.form.get("lang", "")
    if lang not in SUPPORTED:
        return "Unknown language", 400
    session["lang"] = lang
    return redirect(_back_to())


set_language.auth_scheme = "public"  # type: ignore[attr-defined]  # the sign-in page offers it too


def _back_to() -> str:
    return local_path(request.form.get("next", "")) or url_for("console.home")


def init_i18n(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_timezone="Asia/Bangkok")
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["localized"] = localized
    app.register_blueprint(bp)
