"""Thai words for what the IVR speaks: digits one by one, dates in the Buddhist era.

Small and dependency-free on purpose: the web workers answer every call step, and loading a
Thai NLP library there would cost memory for a dozen words.
"""

from __future__ import annotations

from datetime import date, time

from ivr_flows.model import BusinessHours

DIGIT_WORDS = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
BE_OFFSET = 543
DAY_NAMES = ("วันจันทร์", "วันอังคาร", "วันพุธ", "วันพฤหัสบดี", "วันศุกร์", "วันเสาร์", "วันอาทิตย์")
HOUR_WORDS = ("เที่ยงคืน", "ตีหนึ่ง", "ตีสอง", "ตีสาม", "ตีสี่", "ตีห้า", "หกโมงเช้า", "เจ็ดโมงเช้า",
              "แปดโมง", "เก้าโมง", "สิบโมง", "สิบเอ็ดโมง", "เที่ยง", "บ่ายโมง", "บ่ายสองโมง",
              "บ่ายสามโมง", "สี่โมงเย็น", "ห้าโมงเย็น", "หกโมงเย็น", "หนึ่งทุ่ม", "สองทุ่ม", "สามทุ่ม",
              "สี่ทุ่ม", "ห้าทุ่ม")  # fmt: skip


def spoken_digits(digits: str, group: int = 0) -> str:
    """Each digit as a Thai word, so TTS never reads "6900" as a number.

    With ``group``, a comma after every ``group`` digits gives the listener a pause.
    """
    words = [DIGIT_WORDS[int(d)] for d in digits if d.isdecimal()]
    if group <= 0:
        return " ".join(words)
    chunks = [" ".join(words[i : i + group]) for i in range(0, len(words), group)]
    return ", ".join(chunks)


def spoken_wait(seconds: int | None) -> str:
    """Twilio's average wait in the queue as the caller hears it; nothing when unknown."""
    if not seconds or seconds <= 0:
        return ""
    minutes = -(-seconds // 60)
    return "เวลารอโดยประมาณไม่เกินหนึ่งนาที" if minutes <= 1 else f"เวลารอโดยประมาณ {minutes} นาที"


def spoken_clock(at: time) -> str:
    """A time of day as people say it: 08:30 "แปดโมงครึ่ง", 16:30 "สี่โมงครึ่งเย็น"."""
    word = HOUR_WORDS[at.hour]
    if at.minute == 0:
        return word
    if at.minute == 30 and word.endswith("เย็น"):
        return word.removesuffix("เย็น") + "ครึ่งเย็น"
    if at.minute == 30:
        return word + "ครึ่ง"
    return f"{word} {at.minute} นาที"


def spoken_hours(hours: BusinessHours) -> str:
    """When agents take calls, e.g. "วันจันทร์ถึงวันศุกร์ เวลาแปดโมงครึ่งถึงสี่โมงครึ่งเย็น
    เว้นวันหยุดราชการ", or "ตลอดยี่สิบสี่ชั่วโมง"; the flow's ``hours`` are the only source."""
    days = sorted(hours.days)
    all_day = hours.open == time(0, 0) and hours.close >= time(23, 59)
    if len(days) == 7 and all_day:
        return "ตลอดยี่สิบสี่ชั่วโมง"
    if len(days) == 7:
        spoken_days = "ทุกวัน"
    elif days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        spoken_days = f"{DAY_NAMES[days[0]]}ถึง{DAY_NAMES[days[-1]]}"
    else:
        spoken_days = " ".join(DAY_NAMES[d] for d in days)
    when = "ตลอดวัน" if all_day else f"เวลา{spoken_clock(hours.open)}ถึง{spoken_clock(hours.close)}"
    return f"{spoken_days} {when} เว้นวันหยุดราชการ"


def spoken_period(days: int) -> str:
    """How long recordings are kept, from RECORDING_RETENTION_DAYS: "หนึ่งปี", "เก้าสิบวัน"."""
    if days % 365 == 0 and days:
        return f"{_count(days // 365)}ปี"
    if days % 30 == 0 and days:
        return f"{_count(days // 30)}เดือน"
    return f"{_count(days)}วัน"


def _count(n: int) -> str:
    """A small count in Thai words (up to 999), as TTS should say it."""
    units = ("", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
    if n == 0:
        return "ศูนย์"
    words = []
    hundreds, tens, ones = n // 100 % 10, n // 10 % 10, n % 10
    if hundreds:
        words.append(units[hundreds] + "ร้อย")
    if tens:
        words.append({1: "สิบ", 2: "ยี่สิบ"}.get(tens, units[tens] + "สิบ"))
    if ones:
        words.append("เอ็ด" if ones == 1 and tens else units[ones])
    return "".join(words)


def thai_date(day: date, *, spoken: bool = False) -> str:
    """``24 พฤศจิกายน พ.ศ. 2569``: day, Thai month, Buddhist-era year.

    ``spoken`` writes the era out in full (พุทธศักราช), which TTS reads better than "พ.ศ.".
    """
    era = "พุทธศักราช" if spoken else "พ.ศ."
    return f"{day.day} {MONTHS[day.month - 1]} {era} {day.year + BE_OFFSET}"
