"""What the ticket page offers (assignees, agencies, deadlines) and refusals in the agent's words.

The services speak English to logs and the API; an agent reads why an action was refused in
Thai (or English with the switch), with the HTTP status that fits: 400 for bad input, 403, 404,
409 for a workflow that does not allow the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select

from hotline.i18n import localized
from hotline.runtime import runtime
from ticketing.errors import (
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    TicketingError,
)
from ticketing.models import Agency, Role, Ticket, User, agency_categories
from ticketing.permissions import Actor
from ticketing.reference import reference_data
from ticketing.sla import due_at
from ticketing.statuses import REASON_REQUIRED, STATUS_TEXT, TicketStatus

_BY_FIELD = {
    "agency_ids": _l("หน่วยงานที่เลือกรับเรื่องไม่ได้ หรือได้รับเรื่องนี้ไว้แล้วและยังไม่ตอบกลับ"),
    "assignee": _l("ไม่พบเจ้าหน้าที่ที่เลือก หรือเจ้าหน้าที่ไม่ได้ใช้งานแล้ว"),
    "into": _l("รวมเรื่องนี้เข้ากับตัวเองหรือกับเรื่องที่ถูกรวมไปแล้วไม่ได้"),
    "body": _l("โปรดเขียนบันทึก (ไม่เกิน 10,000 ตัวอักษร)"),
    "status": _l("สถานะที่เลือกไม่ถูกต้อง"),
    "ticket": _l("ไม่พบเรื่องที่ระบุ"),
    # the new-ticket form
    "category": _l("โปรดเลือกประเภทเรื่อง"),
    "citizen_id": _l("เลขประจำตัวประชาชนไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง"),
    "citizen_name": _l("ชื่อผู้ร้องยาวเกินไป"),
    "description": _l("โปรดเขียนรายละเอียดของเรื่อง"),
    "phone": _l("หมายเลขโทรศัพท์ไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง"),
    "province_code": _l("โปรดเลือกจังหวัดที่เกิดเหตุ"),
    "district_code": _l("อำเภอ/เขตที่เลือกไม่อยู่ในจังหวัดที่เลือก"),
    "subdistrict_code": _l("ตำบล/แขวงที่เลือกไม่อยู่ในอำเภอที่เลือก"),
    "postal_code": _l("รหัสไปรษณีย์ไม่ตรงกับพื้นที่ที่เลือก"),
}
# A field's rule, when the field alone does not say enough (ticketing errors carry ``rule``).
_BY_RULE = {
    ("citizen_id", "empty"): _l("โปรดกรอกเลขประจำตัวประชาชน 13 หลัก"),
    ("citizen_id", "characters"): _l("เลขประจำตัวประชาชนมีได้เฉพาะตัวเลข ช่องว่าง และขีด"),
    ("citizen_id", "length"): _l("เลขประจำตัวประชาชนต้องมี 13 หลัก"),
    ("citizen_id", "first_digit"): _l("เลขประจำตัวประชาชนต้องขึ้นต้นด้วยเลข 1 ถึง 8"),
    ("citizen_id", "check_digit"): _l(
        "เลขประจำตัวประชาชนไม่ถูกต้อง (หลักตรวจสอบไม่ตรง) อาจพิมพ์ผิดหนึ่งหลัก โปรดตรวจสอบอีกครั้ง"
    ),
    ("description", "too_long"): _l("รายละเอียดยาวเกินไป (ไม่เกิน 10,000 ตัวอักษร)"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActionChoices:
    """The options of the assign and refer forms for one ticket and one user."""

    assignees: list[tuple[int, str]]
    agencies: list[tuple[int, str, bool]]  # id, name, handles this ticket's category
    referral_days: int
    referral_due: datetime


def action_choices(ticket: Ticket, actor: Actor) -> ActionChoices:
    with runtime().uow() as uow:
        session = uow.session
        assignees = [(actor.user_id, _("ตัวฉันเอง"))] if actor.user_id else []
        if actor.role != Role.AGENT:  # an agent may take a ticket, not hand it to others
            agents = session.scalars(
                select(User)
                .where(User.center_id == ticket.center_id, User.role == Role.AGENT)
                .where(User.is_active.is_(True), User.id != actor.user_id)
                .order_by(User.display_name)
            )
            assignees += [(user.id, user.display_name) for user in agents]
        handles = set(
            session.scalars(
                select(agency_categories.c.agency_id).where(
                    agency_categories.c.category_id == ticket.category_id
                )
            )
        )
        agencies = [
            (agency.id, localized(agency.name_th, agency.name_en), agency.id in handles)
            for agency in session.scalars(_agencies_for(ticket))
        ]
        holidays = reference_data(uow).holidays
    rt = runtime()
    days = ticket.category.sla_days
    deadline = due_at(rt.clock(), days, holidays, rt.settings.tz)
    agencies.sort(key=lambda agency: not agency[2])  # those that handle the category first
    return ActionChoices(assignees, agencies, days, deadline)


def _agencies_for(ticket: Ticket) -> Select[Agency]:
    """Active national agencies, and provincial ones of the ticket's province (all without one)."""
    query = select(Agency).where(Agency.is_active.is_(True)).order_by(Agency.name_th)
    if ticket.province_code is None:
        return query
    return query.where(
        or_(Agency.province_code.is_(None), Agency.province_code == ticket.province_code)
    )


def thai_message(exc: TicketingError) -> str:
    """Why an action was refused, in the console's language."""
    if isinstance(exc, PermissionDeniedError):
        return str(_("บัญชีของท่านไม่มีสิทธิ์ทำรายการนี้"))
    if isinstance(exc, IllegalTransitionError):
        return _illegal_transition(exc)
    message = _BY_RULE.get((exc.field or "", exc.rule or "")) or _BY_FIELD.get(exc.field or "")
    return str(message or _("ข้อมูลไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง"))


def _illegal_transition(exc: IllegalTransitionError) -> str:
    target = TicketStatus(exc.target)
    if target in REASON_REQUIRED and exc.reason.startswith("a reason is required"):
        return str(_("โปรดระบุเหตุผล"))
    return str(
        _(
            "เปลี่ยนสถานะจาก “%(current)s” เป็น “%(target)s” ไม่ได้",
            current=_status_label(TicketStatus(exc.current)),
            target=_status_label(target),
        )
    )


def _status_label(status: TicketStatus) -> str:
    text = STATUS_TEXT[status]
    return localized(text.label_th, text.label_en)


def http_status(exc: TicketingError) -> int:
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, IllegalTransitionError):
        return 409
    return 400
