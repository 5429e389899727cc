"""The guided complaint by LINE chat, as rules: (state, data, what the citizen sent) → the next
state, the replies and what the job must do. No Flask, no database, no network: the job loads
the conversation, asks :func:`advance`, and writes what it says.

The steps: category (quick reply) → location (postal code, then the district when the code spans
several, as the voice menu does; a LINE location message is answered with why it cannot be used
yet) → the citizen's own words (text; photos, voice messages and files may be added) → "ส่งเรื่อง"
files the ticket. "ติดตามเรื่อง" at any time shows the status of the citizen's tickets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ticketing.categories import CATEGORY_SEEDS
from ticketing.errors import ValidationError
from ticketing.locations import DistrictCandidate, districts_for_postal_code

TRACK_WORD = "ติดตามเรื่อง"
COMPLAIN_WORD = "ร้องเรียน"
SUBMIT_WORD = "ส่งเรื่อง"
CANCEL_WORD = "ยกเลิก"
STOP_WORD = "หยุดแจ้งเตือน"  # the channel's one opt-out: no progress messages by LINE
START_WORD = "รับแจ้งเตือน"
MEDIA_KINDS = ("image", "audio", "video", "file")
MAX_WORDS = 5000
MAX_ATTACHMENTS = 10
QUICK_REPLY_MAX = 13  # LINE's limit per message
LABEL_MAX = 20  # LINE's limit per quick-reply label

# Quick-reply labels hold 20 characters: the long category names get a short one.
SHORT_LABELS = {
    "official_misconduct": "เจ้าหน้าที่รัฐทุจริต",
    "nuisance": "เดือดร้อนรำคาญ/มลพิษ",
    "consumer_fraud": "หลอกลวงผู้บริโภค",
    "information": "สอบถาม/ขอคำปรึกษา",
}


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A button under a message: ``data`` is a postback, else tapping sends ``label`` as text."""

    label: str
    data: str | None = None
    location: bool = False  # LINE's "send my location" button


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    quick: tuple[QuickReply, ...] = ()


@dataclass(frozen=True, slots=True)
class Incoming:
    """What the citizen sent, from one webhook event."""

    kind: str  # text, postback, location, image, audio, video, file, follow, other
    text: str = ""
    data: str = ""
    message_id: str | None = None
    file_name: str | None = None


@dataclass
class Step:
    state: str
    data: dict[str, Any]
    replies: list[Reply] = field(default_factory=list)
    file: bool = False  # file the complaint in ``data`` (the job adds the ticket number)
    track: bool = False  # show the status of this citizen's tickets
    attachment: Incoming | None = None  # keep this medium (fetched by a job)
    notify: bool | None = None  # progress by LINE: False stops it, True starts it again


def incoming_from_event(event: dict[str, Any]) -> Incoming:
    """The part of a LINE webhook event the conversation needs."""
    kind = str(event.get("type", ""))
    if kind == "follow":
        return Incoming("follow")
    if kind == "postback":
        return Incoming("postback", data=str(event.get("postback", {}).get("data", "")))
    if kind != "message":
        return Incoming("other")
    message = event.get("message", {})
    mtype = str(message.get("type", ""))
    mid = str(message.get("id", "")) or None
    if mtype == "text":
        return Incoming("text", text=str(message.get("text", "")).strip(), message_id=mid)
    if mtype == "location":
        return Incoming("location", message_id=mid)
    if mtype in MEDIA_KINDS:
        name = message.get("fileName")
        return Incoming(mtype, message_id=mid, file_name=str(name)[:200] if name else None)
    return Incoming("other", message_id=mid)


def advance(state: str, data: dict[str, Any], got: Incoming) -> Step:
    """The next step of the conversation; ``data`` is not changed (a new dict is returned)."""
    data = dict(data)
    if (got.kind == "text" and got.text == TRACK_WORD) or got.data == "track":
        return Step(state, data, track=True)
    if (got.kind == "text" and got.text == CANCEL_WORD) or got.data == "cancel":
        return Step("idle", {}, [Reply("ยกเลิกเรื่องที่กำลังแจ้งแล้วค่ะ", _menu())])
    if got.kind == "text" and got.text in (STOP_WORD, START_WORD):
        on = got.text == START_WORD
        said = ("ท่านจะได้รับแจ้งความคืบหน้าทาง LINE อีกครั้งค่ะ" if on else
                f"หยุดส่งความคืบหน้าทาง LINE แล้วค่ะ พิมพ์ “{START_WORD}” เพื่อรับอีกครั้ง")  # fmt: skip
        return Step(state, data, [Reply(said)], notify=on)
    handler = _STATES.get(state, _idle)
    return handler(data, got)


def _idle(data: dict[str, Any], got: Incoming) -> Step:
    if got.kind in ("text", "postback", "follow") or got.kind in MEDIA_KINDS:
        return _ask_category({})
    return Step("idle", {}, [Reply("สวัสดีค่ะ ศูนย์ดำรงธรรม 1567 ยินดีให้บริการ", _menu())])


def _ask_category(data: dict[str, Any], again: bool = False) -> Step:
    lead = (
        "ขออภัยค่ะ กรุณาเลือกประเภทเรื่องจากปุ่มด้านล่าง"
        if again
        else ("ศูนย์ดำรงธรรม 1567 ยินดีรับเรื่องค่ะ กรุณาเลือกประเภทเรื่องที่ต้องการแจ้ง")
    )
    return Step("category", data, [Reply(lead, category_buttons())])


def category_buttons() -> tuple[QuickReply, ...]:
    return tuple(
        QuickReply(SHORT_LABELS.get(c.code, c.name_th)[:LABEL_MAX], data=f"category={c.code}")
        for c in CATEGORY_SEEDS[:QUICK_REPLY_MAX]
    )


def _category(data: dict[str, Any], got: Incoming) -> Step:
    code = _postback_value(got, "category")
    if code is None and got.kind == "text":
        code = next((c.code for c in CATEGORY_SEEDS
                     if got.text in (c.name_th, SHORT_LABELS.get(c.code))), None)  # fmt: skip
    if code is None or code not in {c.code for c in CATEGORY_SEEDS}:
        return _ask_category(data, again=True)
    data["category_code"] = code
    return _ask_postal(data)


def _ask_postal(data: dict[str, Any], lead: str = "") -> Step:
    text = lead or "กรุณาพิมพ์รหัสไปรษณีย์ 5 หลักของสถานที่เกิดเหตุค่ะ"
    return Step("postal", data, [Reply(text, (QuickReply("ส่งตำแหน่ง", location=True),))])


def _postal(data: dict[str, Any], got: Incoming) -> Step:
    if got.kind == "location":
        return _ask_postal(data, "ขออภัยค่ะ ระบบยังระบุอำเภอจากตำแหน่งที่ส่งมาไม่ได้ "
                                 "กรุณาพิมพ์รหัสไปรษณีย์ 5 หลักของสถานที่เกิดเหตุแทนค่ะ")  # fmt: skip
    digits = got.text.replace(" ", "") if got.kind == "text" else ""
    try:
        found = districts_for_postal_code(digits)
    except ValidationError:
        found = []
    if not found:
        return _ask_postal(data, "ไม่พบรหัสไปรษณีย์นี้ค่ะ กรุณาพิมพ์รหัสไปรษณีย์ 5 หลักอีกครั้ง")
    data["postal_code"] = digits
    if len(found) == 1:
        return _ask_words(_with_district(data, found[0]))
    data["district_choices"] = [c.district_code for c in found[:QUICK_REPLY_MAX]]
    buttons = tuple(
        QuickReply(_district_label(c)[:LABEL_MAX], data=f"district={c.district_code}")
        for c in found[:QUICK_REPLY_MAX]
    )
    return Step("district", data, [Reply("รหัสไปรษณีย์นี้ครอบคลุมหลายอำเภอ กรุณาเลือกอำเภอค่ะ", buttons)])


def _district(data: dict[str, Any], got: Incoming) -> Step:
    code = _postback_value(got, "district")
    choices = data.get("district_choices", [])
    found = {c.district_code: c for c in districts_for_postal_code(str(data["postal_code"]))}
    if code is None and got.kind == "text":
        code = next((c for c, d in found.items() if got.text == _district_label(d)), None)
    if code is None or code not in choices or code not in found:
        buttons = tuple(QuickReply(_district_label(found[c])[:LABEL_MAX], data=f"district={c}")
                        for c in choices if c in found)  # fmt: skip
        return Step("district", data, [Reply("กรุณาเลือกอำเภอจากปุ่มด้านล่างค่ะ", buttons)])
    data.pop("district_choices", None)
    return _ask_words(_with_district(data, found[code]))


def _with_district(data: dict[str, Any], place: DistrictCandidate) -> dict[str, Any]:
    data["province_code"] = place.province_code
    data["district_code"] = place.district_code
    data["place"] = f"{_district_label(place)} {place.province_name_th}"
    return data


def _district_label(place: DistrictCandidate) -> str:
    name = place.district_name_th
    return name if name.startswith("เขต") else f"อำเภอ{name}"


def _ask_words(data: dict[str, Any]) -> Step:
    text = f"สถานที่: {data['place']}\nกรุณาพิมพ์เล่าเรื่องที่ต้องการแจ้ง ส่งรูปภาพ เสียง หรือไฟล์ประกอบได้ค่ะ"
    return Step("describe", data, [Reply(text)])


def _describe(data: dict[str, Any], got: Incoming) -> Step:
    submit = (got.kind == "text" and got.text == SUBMIT_WORD) or got.data == "submit"
    if submit:
        if not str(data.get("description", "")).strip():
            return Step("describe", data, [Reply("กรุณาพิมพ์เล่าเรื่องก่อนส่งเรื่องค่ะ")])
        return Step("idle", data, file=True)
    if got.kind in MEDIA_KINDS:
        count = int(data.get("attachments", 0))
        if count >= MAX_ATTACHMENTS:
            return Step("describe", data, [Reply("แนบไฟล์ได้ไม่เกิน 10 ไฟล์ต่อเรื่องค่ะ", _submit())])
        data["attachments"] = count + 1
        return Step("describe", data, [Reply("ได้รับไฟล์แล้วค่ะ", _submit())], attachment=got)
    if got.kind == "text" and got.text:
        words = f"{data.get('description', '')}\n{got.text}".strip()
        data["description"] = words[:MAX_WORDS]
        return Step("describe", data, [Reply(
            "รับทราบค่ะ พิมพ์เพิ่มเติมหรือส่งรูปภาพได้ เมื่อครบแล้วกด “ส่งเรื่อง” ค่ะ", _submit())])  # fmt: skip
    return Step("describe", data, [Reply("กรุณาพิมพ์เล่าเรื่องที่ต้องการแจ้งค่ะ", _submit())])


def filed_reply(number_display: str) -> Reply:
    return Reply(
        f"ศูนย์ดำรงธรรมได้รับเรื่องของท่านแล้ว เลขที่เรื่อง {number_display}\n"
        f"พิมพ์ “{TRACK_WORD}” เพื่อดูความคืบหน้าได้ตลอดเวลาค่ะ",
        _menu(),
    )


def track_reply(rows: list[tuple[str, str]]) -> Reply:
    """``rows``: (number for display, the status's citizen sentence), newest first."""
    if not rows:
        return Reply("ยังไม่พบเรื่องที่ท่านแจ้งผ่าน LINE ค่ะ", _menu())
    lines = [f"เรื่อง {number}: {sentence}" for number, sentence in rows]
    return Reply("\n".join(lines), _menu())


def _menu() -> tuple[QuickReply, ...]:
    return (QuickReply(COMPLAIN_WORD), QuickReply(TRACK_WORD))


def _submit() -> tuple[QuickReply, ...]:
    return (QuickReply(SUBMIT_WORD, data="submit"), QuickReply(CANCEL_WORD, data="cancel"))


def _postback_value(got: Incoming, name: str) -> str | None:
    if got.kind != "postback" or not got.data.startswith(f"{name}="):
        return None
    return got.data.split("=", 1)[1]


_STATES = {
    "idle": _idle,
    "category": _category,
    "postal": _postal,
    "district": _district,
    "describe": _describe,
}
