"""Demo data: agencies, a user of every role, and months of believable tickets and calls.

Tickets go through the real services (numbers, deadlines, status history, audit), so every
screen built later shows what the product would really hold. The same seed gives the same data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import geothai
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.calls.desk import DISPOSITIONS
from hotline.calls.desk_models import AgentState, AgentStateEvent, AgentStatus
from hotline.calls.kinds import CallEventKind
from hotline.calls.models import Call, CallEvent
from hotline.metrics.service import refresh_rollups
from hotline.runtime import Runtime
from ticketing.citizen_id import generate_citizen_id
from ticketing.filing import TicketDraft
from ticketing.models import Agency, Category, Ticket, User
from ticketing.permissions import Actor
from ticketing.services import add_note, change_status, open_ticket, refer
from ticketing.users import NewUser, create_user

DEMO_PASSWORD = "demo-1567-hotline"  # noqa: S105 - printed for demo sign-in on purpose
DEMO_ACTOR = Actor.system("demo-data")

# (code, Thai name, English name, province or None for national, categories it handles)
AGENCIES: tuple[tuple[str, str, str, str | None, tuple[str, ...]], ...] = (
    ("dol", "กรมที่ดิน", "Department of Lands", None, ("land",)),
    ("rtp", "สำนักงานตำรวจแห่งชาติ", "Royal Thai Police", None,
     ("drugs", "gambling", "informal_debt", "consumer_fraud")),
    ("oncb", "สำนักงานคณะกรรมการป้องกันและปราบปรามยาเสพติด", "Office of the Narcotics Control Board",
     None, ("drugs",)),
    ("dopa", "กรมการปกครอง", "Department of Provincial Administration", None,
     ("gambling", "informal_debt", "request_fairness")),
    ("ocpb", "สำนักงานคณะกรรมการคุ้มครองผู้บริโภค", "Office of the Consumer Protection Board", None,
     ("consumer_fraud",)),
    ("pcd", "กรมควบคุมมลพิษ", "Pollution Control Department", None, ("nuisance",)),
    ("nacc", "สำนักงานคณะกรรมการป้องกันและปราบปรามการทุจริตแห่งชาติ",
     "National Anti-Corruption Commission", None, ("official_misconduct",)),
    ("pea", "การไฟฟ้าส่วนภูมิภาค", "Provincial Electricity Authority", None, ("request_help",)),
    ("pwa", "การประปาส่วนภูมิภาค", "Provincial Waterworks Authority", None, ("request_help",)),
    ("dsdw", "กรมพัฒนาสังคมและสวัสดิการ", "Department of Social Development and Welfare", None,
     ("request_help",)),
    ("rlpd", "กรมคุ้มครองสิทธิและเสรีภาพ", "Rights and Liberties Protection Department", None,
     ("request_fairness",)),
    ("dla", "กรมส่งเสริมการปกครองท้องถิ่น", "Department of Local Administration", None,
     ("nuisance", "request_help", "other")),
    ("cm-land", "สำนักงานที่ดินจังหวัดเชียงใหม่", "Chiang Mai Provincial Land Office", "50", ("land",)),
    ("kk-police", "ตำรวจภูธรจังหวัดขอนแก่น", "Khon Kaen Provincial Police", "40",
     ("drugs", "gambling")),
)  # fmt: skip

# (username, role, display name, center, agency)
USERS: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("admin", "admin", "ผู้ดูแลระบบ", "central", None),
    ("supervisor", "supervisor", "สุภาพร หัวหน้าเวร", "central", None),
    ("agent", "agent", "มานี รับสาย", "central", None),
    ("agent2", "agent", "ปิติ ช่วยเหลือ", "central", None),
    ("agent.cm", "agent", "ชูใจ เชียงใหม่", "50", None),
    ("supervisor.cm", "supervisor", "วีระ ดูแลดี", "50", None),
    ("agency.dol", "agency", "เจ้าหน้าที่กรมที่ดิน", None, "dol"),
    ("agency.rtp", "agency", "เจ้าหน้าที่ตำรวจ", None, "rtp"),
)

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "land": (
        "เพื่อนบ้านสร้างรั้วรุกล้ำเข้ามาในที่ดินประมาณ {n} เมตร ขอให้เจ้าหน้าที่มารังวัดแนวเขตใหม่",
        "ขอให้ตรวจสอบการออกโฉนดที่ดินทับที่ทำกินของครอบครัวซึ่งทำกินมากว่า {n} ปี",
        "ถูกเรียกเก็บค่าธรรมเนียมโอนที่ดินเพิ่มโดยไม่ได้รับใบเสร็จ",
    ),
    "informal_debt": (
        "กู้เงินนอกระบบ {amount} บาท ถูกคิดดอกเบี้ยร้อยละ 20 ต่อเดือนและถูกข่มขู่ทวงหนี้",
        "เจ้าหนี้นอกระบบยึดบัตรเอทีเอ็มและสมุดบัญชีไว้ ขอความช่วยเหลือเจรจาประนอมหนี้",
    ),
    "official_misconduct": (
        "เจ้าหน้าที่เรียกรับเงิน {amount} บาทเพื่อเร่งออกใบอนุญาต",
        "เจ้าหน้าที่พูดจาไม่สุภาพและไม่ให้บริการในเวลาราชการ",
    ),
    "drugs": (
        "มีการมั่วสุมเสพยาเสพติดในบ้านร้างท้ายซอยช่วงกลางคืน",
        "แจ้งเบาะแสการค้ายาบ้าบริเวณหน้าร้านค้าในหมู่บ้าน",
    ),
    "gambling": (
        "มีบ่อนการพนันเปิดเล่นไพ่ทุกคืนในหมู่บ้าน",
        "มีการชักชวนเยาวชนในชุมชนเล่นพนันออนไลน์",
    ),
    "nuisance": (
        "โรงงานปล่อยน้ำเสียลงลำคลอง ส่งกลิ่นเหม็นไปทั้งหมู่บ้าน",
        "ร้านอาหารเปิดเพลงเสียงดังเกินเที่ยงคืนทุกคืน",
        "มีการเผาขยะในที่โล่ง ควันเข้าบ้านเรือนจนเด็กเล็กไม่สบาย",
    ),
    "consumer_fraud": (
        "สั่งซื้อสินค้าออนไลน์ โอนเงิน {amount} บาทแล้วไม่ได้รับสินค้า ติดต่อผู้ขายไม่ได้",
        "ถูกชักชวนลงทุนแชร์ลูกโซ่ อ้างว่าได้ผลตอบแทนสูง สูญเงินไป {amount} บาท",
    ),
    "request_help": (
        "ไฟฟ้าดับบ่อยในหมู่บ้าน ขอให้การไฟฟ้าตรวจสอบหม้อแปลง",
        "น้ำประปาไม่ไหลมา {n} วันแล้ว ขอให้เร่งแก้ไข",
        "ขอความช่วยเหลือผู้สูงอายุที่อยู่ลำพังและป่วยติดเตียง",
        "ถนนในหมู่บ้านชำรุดเป็นหลุมบ่อ เกิดอุบัติเหตุบ่อยครั้ง",
    ),
    "request_fairness": (
        "ถูกนายจ้างเลิกจ้างโดยไม่จ่ายค่าชดเชย",
        "ไม่ได้รับความเป็นธรรมในการจัดสรรเงินช่วยเหลือผู้ประสบภัย",
    ),
    "information": (
        "สอบถามขั้นตอนการขอรับเงินช่วยเหลือผู้ประสบอุทกภัย",
        "สอบถามเอกสารที่ต้องใช้ในการแจ้งย้ายทะเบียนบ้าน",
    ),
    "other": (
        "ขอให้ติดตั้งไฟส่องสว่างในซอยที่เปลี่ยว",
        "สุนัขจรจัดจำนวนมากไล่กัดคนในชุมชน",
    ),
}
CATEGORY_WEIGHTS = {
    "land": 14, "informal_debt": 9, "official_misconduct": 6, "drugs": 8, "gambling": 5,
    "nuisance": 12, "consumer_fraud": 9, "request_help": 18, "request_fairness": 8,
    "information": 7, "other": 4,
}  # fmt: skip
FIRST_NAMES = (
    "สมชาย",
    "สมศรี",
    "บุญมี",
    "มาลี",
    "ประเสริฐ",
    "วันเพ็ญ",
    "สุรชัย",
    "นงลักษณ์",
    "อำนาจ",
    "จันทร์เพ็ญ",
)
SURNAMES = ("ใจดี", "ศรีสุข", "แก้วมณี", "ทองคำ", "บุญประเสริฐ", "สุขสวัสดิ์", "วงศ์ไทย", "พรหมมา")
BIG_PROVINCES = {"10": 20, "50": 5, "40": 4, "30": 4, "20": 4, "90": 3, "34": 3, "41": 3}
CHANNELS = (("phone", 60), ("walk_in", 25), ("letter", 10), ("web", 5))
HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 9, 11, 11, 10, 8, 10, 11, 10, 8, 6, 5, 4, 3, 2, 2, 1)
DEMO_ON_SHIFT = 2  # demo agents signed in now, so the wallboard and staffing show someone
QUIET_SPELL = timedelta(minutes=40)  # a demo agent signs out when no caller comes for this long


@dataclass
class DemoSummary:
    tickets: int = 0
    calls: int = 0
    agencies: int = 0
    usernames: list[str] = field(default_factory=list)
    skipped: bool = False

    def describe(self) -> str:
        if self.skipped:
            return "demo data already loaded; nothing added"
        return (
            f"loaded {self.tickets} tickets, {self.calls} calls, {self.agencies} agencies, "
            f"{len(self.usernames)} users"
        )


def load_demo_data(
    rt: Runtime, *, tickets: int, days: int, seed: int, if_empty: bool = False
) -> DemoSummary:
    """Load the demo data set. With ``if_empty``, do nothing when tickets already exist."""
    summary = DemoSummary(usernames=[u[0] for u in USERS])
    with rt.uow() as uow:
        existing = uow.session.scalar(select(func.count()).select_from(Ticket)) or 0
    if if_empty and existing:
        summary.skipped = True
        return summary
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not security
    now = datetime.now(UTC)
    summary.agencies = _ensure_agencies(rt)
    staff = _ensure_users(rt)
    agencies_by_category = _agencies_by_category(rt)
    for _ in range(tickets):
        _demo_ticket(rt, rng, now, days, staff, agencies_by_category)
        summary.tickets += 1
    summary.calls = _demo_calls(rt, rng, now, days, staff)
    refresh_rollups(rt)  # the dashboard reads rollups; build them now rather than on first view
    return summary


# Reference rows ---------------------------------------------------------------------------


def _ensure_agencies(rt: Runtime) -> int:
    with rt.uow() as uow:
        session = uow.session
        categories = {c.code: c for c in session.scalars(select(Category))}
        known = set(session.scalars(select(Agency.code)))
        for code, name_th, name_en, province, handles in AGENCIES:
            if code in known:
                continue
            session.add(
                Agency(
                    code=code,
                    name_th=name_th,
                    name_en=name_en,
                    scope="provincial" if province else "national",
                    province_code=province,
                    contact_phone="+6621234567",
                    categories=[categories[c] for c in handles],
                )
            )
        uow.commit()
    return len(AGENCIES)


def _ensure_users(rt: Runtime) -> list[Actor]:
    with rt.uow() as uow:
        known = set(uow.session.scalars(select(User.username)))
    for username, role, name, center, agency in USERS:
        if username not in known:
            create_user(
                rt.uow(), NewUser(username, name, DEMO_PASSWORD, role, center, agency), DEMO_ACTOR
            )
    with rt.uow() as uow:
        staff = uow.session.scalars(select(User).where(User.role.in_(("agent", "supervisor"))))
        return [Actor.for_user(user) for user in staff]


def _agencies_by_category(rt: Runtime) -> dict[str, list[int]]:
    mapping: dict[str, list[int]] = {}
    with rt.uow() as uow:
        for agency in uow.session.scalars(select(Agency)):
            for category in agency.categories:
                mapping.setdefault(category.code, []).append(agency.id)
    return mapping


# Tickets ----------------------------------------------------------------------------------


def _demo_ticket(
    rt: Runtime,
    rng: random.Random,
    now: datetime,
    days: int,
    staff: list[Actor],
    agencies_by_category: dict[str, list[int]],
) -> None:
    opened_at = _random_moment(rng, now, days)
    category = _weighted(rng, CATEGORY_WEIGHTS)
    draft = _draft(rng, category)
    ticket = open_ticket(rt.uow(), draft, DEMO_ACTOR, tz=rt.settings.tz, now=opened_at)
    _progress(
        rt, rng, ticket, opened_at, now, rng.choice(staff), agencies_by_category.get(category, [])
    )


def _draft(rng: random.Random, category: str) -> TicketDraft:
    province = _random_province(rng)
    district = rng.choice(geothai.districts(province))
    subdistrict = rng.choice(geothai.subdistricts(district.code))
    channel = _weighted(rng, dict(CHANNELS))
    text = rng.choice(DESCRIPTIONS[category]).format(
        n=rng.randint(2, 30), amount=f"{rng.randint(2, 200) * 1000:,}"
    )
    return TicketDraft(
        channel=channel,
        category_code=category,
        description=text,
        caller_phone=f"0{rng.choice('89')}{rng.randint(10_000_000, 99_999_999)}",
        citizen_id=generate_citizen_id(rng) if rng.random() < 0.6 else None,
        citizen_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
        province_code=province,
        district_code=district.code,
        subdistrict_code=subdistrict.code,
        postal_code=subdistrict.postal_codes[0] if subdistrict.postal_codes else None,
        priority="high" if rng.random() < 0.08 else "normal",
    )


def _progress(
    rt: Runtime,
    rng: random.Random,
    ticket: Ticket,
    opened_at: datetime,
    now: datetime,
    agent: Actor,
    agency_ids: list[int],
) -> None:
    """Walk a ticket along the workflow as far as its age makes likely."""
    age_days = (now - opened_at).total_seconds() / 86400
    at = opened_at
    steps = min(int(age_days / rng.uniform(2, 8)), 4) if age_days > 0.5 else 0

    def later(max_hours: float) -> datetime:
        nonlocal at
        at = min(at + timedelta(hours=rng.uniform(1, max_hours)), now)
        return at

    tz = rt.settings.tz
    if steps >= 1:
        change_status(rt.uow(), ticket.id, "accepted", agent, now=later(24))
        add_note(rt.uow(), ticket.id, "ตรวจสอบข้อมูลเบื้องต้นแล้ว", agent, now=later(4))
    if steps >= 2 and agency_ids:
        refer(rt.uow(), ticket.id, [rng.choice(agency_ids)], agent, tz=tz, now=later(48))
    elif steps >= 2:
        change_status(rt.uow(), ticket.id, "in_progress", agent, now=later(48))
    if steps >= 3:
        note = "หน่วยงานแจ้งผลการดำเนินการแล้ว แจ้งผู้ร้องทราบ"
        add_note(rt.uow(), ticket.id, note, agent, is_public=True, now=later(120))
        change_status(rt.uow(), ticket.id, "resolved", agent, now=later(24))
    if steps >= 4:
        change_status(rt.uow(), ticket.id, "closed", agent, now=later(72))


# Calls ------------------------------------------------------------------------------------


def _demo_calls(
    rt: Runtime, rng: random.Random, now: datetime, days: int, staff: list[Actor]
) -> int:
    """Calls for phone tickets plus status checks, agent calls and IVR hang-ups; the agents'
    state log of the calls they took (see :class:`DemoDesk`)."""
    count = 0
    with rt.uow() as uow:
        session = uow.session
        phone_tickets = session.scalars(select(Ticket).where(Ticket.channel == "phone")).all()
        for ticket in phone_tickets:
            _filing_call(session, rng, ticket)
            count += 1
        agent_ids = [a.user_id for a in staff if a.user_id is not None and a.role == "agent"]
        desk = DemoDesk(agent_ids)
        # In time order, so an agent takes one caller at a time; all over an hour before now.
        moments = sorted(
            _random_moment(rng, now - timedelta(hours=1), days)
            for _ in range(len(phone_tickets) * 2)
        )
        for moment in moments:
            _other_call(session, rng, moment, desk, phone_tickets)
            count += 1
        desk.write(session, rng, now)
        uow.commit()
    return count


@dataclass
class DemoDesk:
    """The demo agents at the desk: the longest-idle agent takes the next caller (callers wait
    when all are busy); each agent signs in a little before a call and out after a quiet spell,
    and leaves the state log the agent desk would write.
    """

    agent_ids: list[int]
    free_at: dict[int, datetime] = field(default_factory=dict)
    calls: dict[int, list[tuple[datetime, datetime, datetime, str]]] = field(default_factory=dict)

    def answer(self, queued: datetime, wait_s: int) -> tuple[int, datetime] | None:
        """(agent, when answered) for a caller queued at ``queued`` willing to wait ``wait_s``."""
        if not self.agent_ids:
            return None
        agent = min(self.agent_ids, key=lambda a: (self.free_at.get(a, queued), a))
        return agent, max(queued + timedelta(seconds=wait_s), self.free_at.get(agent, queued))

    def took(self, agent: int, call_sid: str, answered: datetime, done: datetime,
             wrapped: datetime) -> None:  # fmt: skip
        self.free_at[agent] = wrapped
        self.calls.setdefault(agent, []).append((answered, done, wrapped, call_sid))

    def write(self, session: Session, rng: random.Random, now: datetime) -> None:
        for index, agent in enumerate(self.agent_ids):
            log = self._log(rng, self.calls.get(agent, []))
            if index < DEMO_ON_SHIFT:  # on shift now
                began = now - timedelta(minutes=rng.randint(5, 40))
                if log:
                    began = max(began, log[-1][0] + timedelta(minutes=1))
                log.append((began, AgentState.AVAILABLE, None))
            previous = AgentState.AWAY.value
            for at, state, call_sid in log:
                session.add(AgentStateEvent(user_id=agent, state=state.value, previous=previous,
                                            at=at, reason="demo", call_sid=call_sid))  # fmt: skip
                previous = state.value
            if log and session.get(AgentStatus, agent) is None:
                session.add(AgentStatus(user_id=agent, state=previous, since=log[-1][0]))

    @staticmethod
    def _log(
        rng: random.Random, calls: list[tuple[datetime, datetime, datetime, str]]
    ) -> list[tuple[datetime, AgentState, str | None]]:
        log: list[tuple[datetime, AgentState, str | None]] = []
        signed_out = datetime.min.replace(tzinfo=UTC)
        for index, (answered, done, wrapped, sid) in enumerate(calls):
            if answered > signed_out:  # a new stretch at the desk
                sign_in = answered - timedelta(minutes=rng.randint(2, 15))
                log.append((max(sign_in, signed_out + timedelta(seconds=1)), AgentState.AVAILABLE,
                            None))  # fmt: skip
            log.append((answered, AgentState.ON_CALL, sid))
            log.append((done, AgentState.WRAP_UP, sid))
            log.append((wrapped, AgentState.AVAILABLE, None))
            following = calls[index + 1][0] if index + 1 < len(calls) else None
            if following is None or following - wrapped > QUIET_SPELL:
                signed_out = wrapped + timedelta(minutes=rng.randint(2, 10))
                if following is not None:
                    signed_out = min(signed_out, following - timedelta(minutes=6))
                log.append((signed_out, AgentState.AWAY, None))
            else:
                signed_out = following  # stays signed in until the next call
        return log


def _new_call(session: Session, rng: random.Random, started: datetime, caller: str | None) -> Call:
    call = Call(
        call_sid="CA" + "".join(rng.choice("0123456789abcdef") for _ in range(32)),
        from_number=caller,
        from_raw=caller or "anonymous",
        to_number="1567",
        twilio_status="completed",
        started_at=started,
    )
    session.add(call)
    session.flush()
    return call


def _event(session: Session, call: Call, kind: CallEventKind, at: datetime, node: str | None = None,
           value: str | None = None, data: dict[str, int] | None = None) -> None:  # fmt: skip
    session.add(
        CallEvent(call_id=call.id, kind=kind.value, node=node, value=value, at=at, data=data)
    )


def _filing_call(session: Session, rng: random.Random, ticket: Ticket) -> None:
    start = ticket.created_at - timedelta(seconds=rng.randint(90, 240))
    call = _new_call(session, rng, start, ticket.caller_phone)
    t = start
    steps = (
        ("main_menu", "1"),
        ("complaint_category", None),
        ("postal_code", ticket.postal_code),
        ("citizen_id", None),
        ("record_complaint", "recorded"),
    )
    for node, value in steps:
        _event(session, call, CallEventKind.IVR_ENTER, t, node)
        t += timedelta(seconds=rng.randint(5, 30))
        if rng.random() < 0.08:  # a wrong key or silence first, then the right answer
            kind = CallEventKind.IVR_INVALID if rng.random() < 0.6 else CallEventKind.IVR_NO_INPUT
            _event(session, call, kind, t, node)
            t += timedelta(seconds=rng.randint(5, 15))
        _event(session, call, CallEventKind.IVR_INPUT, t, node, value)
    _event(
        session, call, CallEventKind.TICKET_FILED, ticket.created_at, "file_ticket", ticket.number
    )
    _event(session, call, CallEventKind.IVR_ENTER, ticket.created_at, "ticket_filed")
    end = ticket.created_at + timedelta(seconds=rng.randint(15, 40))
    _event(session, call, CallEventKind.IVR_ENTER, end, "goodbye")
    _event(session, call, CallEventKind.COMPLETE, end, "goodbye", "self_service")
    _close(call, end, "self_service", "goodbye")
    call.tickets.append(ticket)


def _other_call(
    session: Session,
    rng: random.Random,
    start: datetime,
    desk: DemoDesk,
    tickets: Sequence[Ticket],
) -> None:
    kind = rng.random()
    ticket = rng.choice(tickets) if tickets else None
    caller = (
        ticket.caller_phone
        if ticket and kind < 0.25
        else f"+668{rng.randint(10_000_000, 99_999_999)}"
    )
    call = _new_call(session, rng, start, caller)
    _event(session, call, CallEventKind.IVR_ENTER, start, "main_menu")
    t = start + timedelta(seconds=rng.randint(8, 25))
    if kind < 0.25 and ticket is not None:
        _status_call(session, rng, call, t, ticket)
    elif kind < 0.85 and desk.agent_ids:
        _queue_call(session, rng, call, t, desk)
    else:
        _ivr_drop(session, rng, call, t)


def _status_call(
    session: Session, rng: random.Random, call: Call, t: datetime, ticket: Ticket
) -> None:
    _event(session, call, CallEventKind.IVR_INPUT, t, "main_menu", "2")
    _event(session, call, CallEventKind.IVR_ENTER, t, "status_number")
    t += timedelta(seconds=rng.randint(15, 40))
    _event(session, call, CallEventKind.IVR_INPUT, t, "status_number", ticket.number)
    _event(session, call, CallEventKind.STATUS_HEARD, t, "lookup_status", ticket.number)
    _event(session, call, CallEventKind.IVR_ENTER, t, "status_result")
    end = t + timedelta(seconds=10)
    _event(session, call, CallEventKind.COMPLETE, end, "status_result", "self_service")
    _close(call, end, "self_service", "status_result")


def _ivr_drop(session: Session, rng: random.Random, call: Call, t: datetime) -> None:
    """A caller who gives up in the menus: at the main menu, or halfway through a complaint."""
    node = "main_menu"
    if rng.random() < 0.4:
        _event(session, call, CallEventKind.IVR_INPUT, t, node, "1")
        node = rng.choice(("complaint_category", "postal_code", "citizen_id"))
        _event(session, call, CallEventKind.IVR_ENTER, t, node)
        t += timedelta(seconds=rng.randint(5, 20))
    kind = CallEventKind.IVR_NO_INPUT if rng.random() < 0.6 else CallEventKind.IVR_INVALID
    _event(session, call, kind, t, node)
    end = t + timedelta(seconds=4)
    _event(session, call, CallEventKind.HANGUP, end, node, "abandoned_ivr")
    _close(call, end, "abandoned_ivr", node)


def _queue_call(
    session: Session, rng: random.Random, call: Call, t: datetime, desk: DemoDesk
) -> None:
    _event(session, call, CallEventKind.IVR_INPUT, t, "main_menu", "0")
    _event(session, call, CallEventKind.IVR_ENTER, t, "to_agent")
    _event(session, call, CallEventKind.ENQUEUE, t, "to_agent", "agents")
    patience = int(rng.expovariate(1 / 35))
    taken = desk.answer(t, patience)
    if taken is None or rng.random() < 0.12:
        call.queue_wait_s = patience
        _event(session, call, CallEventKind.ABANDON, t + timedelta(seconds=patience), "to_agent",
               data={"wait_s": patience})  # fmt: skip
        _close(call, t + timedelta(seconds=patience), "abandoned_queue", "to_agent")
        return
    agent_id, answered = taken
    wait = int((answered - t).total_seconds())
    talk = rng.randint(60, 420)
    call.queue_wait_s, call.answered_at, call.agent_id = wait, answered, agent_id
    _event(session, call, CallEventKind.CONNECT, answered, "to_agent",
           data={"wait_s": wait, "agent_id": agent_id})  # fmt: skip
    done = answered + timedelta(seconds=talk)
    _event(session, call, CallEventKind.COMPLETE, done, "to_agent", "agent", data={"wait_s": wait})
    wrapped = done + timedelta(seconds=rng.randint(20, 90))
    call.wrapped_up_at, call.disposition = wrapped, rng.choice(list(DISPOSITIONS))
    desk.took(agent_id, call.call_sid, answered, done, wrapped)
    end = _survey(session, rng, call, done)
    _close(call, end, "answered", "survey")


def _survey(session: Session, rng: random.Random, call: Call, t: datetime) -> datetime:
    """After an agent call: the one-key satisfaction survey, answered by about 60% of callers."""
    _event(session, call, CallEventKind.IVR_ENTER, t, "survey")
    t += timedelta(seconds=rng.randint(4, 12))
    if rng.random() < 0.6:
        score = _weighted(rng, {"5": 45, "4": 30, "3": 12, "2": 7, "1": 6})
        _event(session, call, CallEventKind.IVR_INPUT, t, "survey", score)
        _event(session, call, CallEventKind.SURVEY_ANSWER, t, "survey", score)
        _event(session, call, CallEventKind.IVR_ENTER, t, "goodbye")
    return t + timedelta(seconds=3)


def _close(call: Call, end: datetime, outcome: str, node: str) -> None:
    call.ended_at = end
    call.duration_s = int((end - call.started_at).total_seconds())
    call.outcome = outcome
    call.last_node = node


# Randomness -------------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _random_province(rng: random.Random) -> str:
    codes = [p.code for p in geothai.provinces()]
    weights = [BIG_PROVINCES.get(code, 1) for code in codes]
    return rng.choices(codes, weights=weights)[0]


def _random_moment(rng: random.Random, now: datetime, days: int) -> datetime:
    """A past moment shaped like hotline traffic: office hours, fewer calls at weekends."""
    while True:
        day = now - timedelta(days=rng.uniform(0, days))
        bangkok_hour = rng.choices(range(24), weights=HOURS)[0]
        moment = day.replace(hour=(bangkok_hour - 7) % 24, minute=rng.randint(0, 59))
        weekend = (moment + timedelta(hours=7)).weekday() >= 5
        if moment < now and (not weekend or rng.random() < 0.4):
            return moment
