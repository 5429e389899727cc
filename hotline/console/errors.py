"""Error pages in the person's language, inside the layout, with a way back.

A person in the console never sees Werkzeug's bare English page: each status has a Thai title and
a sentence of what to do (English with the switch). The exception's description is developer text
for logs and is never shown. Machines keep their shapes: /api/ answers JSON as the API does,
Open311's blueprint keeps its own, /twilio/* never reaches Flask (the router in front), and a
script that asks for JSON (the console's own fetch calls) gets JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from hotline.auth import FormExpired, current_user, local_path

log = logging.getLogger(__name__)

# status → (title, what to do); the 400 of a lost session has its own words (FormExpired).
_PAGES = {
    400: (_l("คำขอไม่ถูกต้อง"), _l("ข้อมูลที่ส่งมาไม่ถูกต้อง โปรดกลับไปตรวจสอบแล้วลองอีกครั้ง")),
    401: (_l("โปรดเข้าสู่ระบบ"), _l("หน้านี้ต้องเข้าสู่ระบบก่อน")),
    403: (_l("ไม่มีสิทธิ์เปิดหน้านี้"), _l("บัญชีของท่านไม่มีสิทธิ์เปิดหน้านี้ หากจำเป็นต้องใช้ โปรดติดต่อหัวหน้างาน")),
    404: (_l("ไม่พบหน้าที่ต้องการ"), _l("ไม่พบหน้าหรือเรื่องที่ระบุ อาจพิมพ์เลขที่ผิด หรือรายการนี้ถูกลบไปแล้ว")),
    405: (_l("เปิดหน้านี้ด้วยวิธีนี้ไม่ได้"), _l("หน้านี้ไม่รองรับการเปิดแบบนี้ โปรดใช้ปุ่มหรือลิงก์ในหน้าจอ")),
    409: (_l("ทำรายการนี้ตอนนี้ไม่ได้"), _l("สถานะของรายการเปลี่ยนไปแล้ว โปรดโหลดหน้าใหม่แล้วลองอีกครั้ง")),
    410: (_l("รายการนี้ถูกลบแล้ว"), _l("รายการนี้ถูกลบตามระยะเวลาการเก็บรักษาข้อมูล")),
    413: (_l("ข้อมูลที่ส่งมีขนาดใหญ่เกินไป"), _l("โปรดลดขนาดข้อมูลหรือไฟล์แล้วลองอีกครั้ง")),
    429: (_l("มีการทำรายการถี่เกินไป"), _l("โปรดรอสักครู่แล้วลองอีกครั้ง")),
    500: (_l("ระบบขัดข้อง"), _l("ระบบทำรายการไม่สำเร็จ ข้อมูลที่บันทึกไว้แล้วไม่สูญหาย โปรดลองอีกครั้งภายหลัง")),
}  # fmt: skip
_EXPIRED = (
    _l("แบบฟอร์มหมดอายุ"),
    _l("แบบฟอร์มนี้หมดอายุหรือการเข้าสู่ระบบสิ้นสุดแล้ว โปรดโหลดหน้าใหม่แล้วทำรายการอีกครั้ง"),
)
_MACHINE_PREFIXES = ("/open311/", "/simulator/twilio/", "/twilio/", "/health")


def error_page(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if request.path.startswith(_MACHINE_PREFIXES):
        return exc  # their own shapes (Open311's blueprint handler runs before this one)
    if status >= 500:
        log.error("error page %s for %s", status, request.path, exc_info=_original(exc))
    title, advice = _EXPIRED if isinstance(exc, FormExpired) else _PAGES.get(status, _PAGES[400])
    if request.path.startswith("/api/") or _wants_json():
        code = (exc.name or "error").lower().replace(" ", "_")
        body = {"code": code, "message": str(advice), "field": None}  # the API's error shape
        return jsonify(error=body), status
    try:
        back, kind = _way_back(status)
        html = render_template(
            "error.html", status=status, title=title, advice=advice, back=back, back_kind=kind
        )
    except Exception:  # the layout itself failed (the database is down): a page without it
        log.exception("the error page could not be rendered")
        html = f"<!doctype html><meta charset=utf-8><h1>{title}</h1><p>{advice}</p><a href=/>←</a>"
    headers = {"Retry-After": "60"} if status == 429 else {}
    return html, status, headers


def _original(exc: HTTPException) -> BaseException | None:
    original = getattr(exc, "original_exception", None)
    return original if isinstance(original, BaseException) else None


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(("text/html", "application/json"))
    return best == "application/json" and not request.accept_mimetypes.accept_html


def _way_back(status: int) -> tuple[str, str]:
    """The page the person came from when it is on this site and not the failing one, else home
    (or the sign-in page for someone not signed in), and which of the three it is."""
    came_from = local_path(_path_of(request.referrer or ""))
    if came_from and came_from != request.full_path.rstrip("?") and status != 500:
        return came_from, "previous"
    if current_user() is None:
        return url_for("auth.login"), "login"
    return url_for("console.home"), "home"


def _path_of(url: str) -> str:
    root = request.host_url
    return "/" + url[len(root) :] if url.startswith(root) else ""


def init_error_pages(app: Flask) -> None:
    """Register last: handlers that other parts registered for a status (Open311's 404 and 405
    for its unknown URLs) keep their paths and hand every other path to these pages."""
    app.register_error_handler(HTTPException, error_page)
    for code, handler in list(app.error_handler_spec[None].items()):
        if code is None:
            continue
        for kind, earlier in list(handler.items()):
            app.register_error_handler(kind, _after(earlier))
    app.register_error_handler(InternalServerError, error_page)


def _after(earlier: Callable[..., Any]) -> Callable[[HTTPException], ResponseReturnValue]:
    def handle(exc: HTTPException) -> ResponseReturnValue:
        answer: ResponseReturnValue = earlier(exc)
        return error_page(exc) if answer is exc else answer

    return handle
