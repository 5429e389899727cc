"""What several console pages share: Thai dates, masked phones, status words, deadline alerts."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline.auth import current_user
from hotline.i18n import current_language, localized
from hotline.runtime import runtime
from ticketing.deadlines import is_overdue
from ticketing.models import Alert, Referral, Ticket
from ticketing.phones import mask_phone
from ticketing.statuses import STATUS_TEXT, TicketStatus

REFERRAL_STATUSES = {
    "sent": _l("รอดำเนินการ"), "in_progress": _l("กำลังดำเนินการ"), "answered": _l("ตอบแล้ว"),
    "returned": _l("ส่งคืนศูนย์แล้ว"),
}  # fmt: skip
THAI_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
               "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")  # fmt: skip
ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip


def be_datetime(value: datetime) -> str:
    """24 พ.ย. 2569 10:05 in Thai (Buddhist era), 24 Nov 2026 10:05 in English (Gregorian: an
    English month with a Buddhist year reads as a date 543 years ahead) — Asia/Bangkok."""
    local = value.astimezone(runtime().settings.tz)
    if current_language() == "en":
        return f"{local.day} {ENGLISH_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
    return f"{local.day} {THAI_MONTHS[local.month - 1]} {local.year + 543} {local:%H:%M}"


def masked_phone(value: str | None) -> str:
    return mask_phone(value) if value else _("ไม่แสดงหมายเลข")


def status_th(value: str) -> str:
    text = STATUS_TEXT[TicketStatus(value)]
    return localized(text.label_th, text.label_en)


def referral_status_th(value: str) -> str:
    label = REFERRAL_STATUSES.get(value)
    return str(label) if label is not None else value


def overdue(item: Ticket | Referral) -> bool:
    """Past its deadline and still open, on the app's clock (see ticketing.deadlines)."""
    return is_overdue(item, runtime().clock())


def may_open(endpoint: str) -> bool:
    """Whether the signed-in person's role may open ``endpoint``: the menu asks the route's own
    ``roles_required``, so it never offers a link that answers 403."""
    user = current_user()
    view = current_app.view_functions.get(endpoint)
    if user is None or view is None:
        return False
    allowed = getattr(view, "allowed_roles", None)
    return allowed is None or user.role in {str(role) for role in allowed}


def add_template_helpers(bp: Blueprint) -> None:
    """The filters, ``overdue`` and ``may_open`` above, for every template of the app once ``bp``
    is registered (the training pages use them too)."""
    for helper in (be_datetime, masked_phone, status_th, referral_status_th):
        bp.add_app_template_filter(helper)
    bp.add_app_template_global(overdue)
    bp.add_app_template_global(may_open)


def alerts_for(user_id: int, limit: int = 20) -> list[tuple[Alert, str]]:
    """The newest reminders and escalations addressed to this user, with their ticket numbers."""
    with runtime().uow() as uow:
        query = (
            select(Alert, Ticket.number)
            .join(Ticket, Ticket.id == Alert.ticket_id)
            .where(Alert.user_id == user_id)
            .order_by(Alert.created_at.desc(), Alert.id.desc())
            .limit(limit)
        )
        return [(alert, number) for alert, number in uow.session.execute(query)]


def signed_in_user_id() -> int:
    user = current_user()
    if user is None:
        abort(401)
    return user.id
