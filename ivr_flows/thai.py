"""Thai words for what the IVR speaks: digits one by one, dates in the Buddhist era.

Small and dependency-free on purpose: the web workers answer every call step, and loading a
Thai NLP library there would cost memory for a dozen words.
"""

from __future__ import annotations

from datetime import date

DIGIT_WORDS = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
BE_OFFSET = 543


def spoken_digits(digits: str, group: int = 0) -> str:
    """Each digit as a Thai word, so TTS never reads "6900" as a number.

    With ``group``, a comma after every ``group`` digits gives the listener a pause.
    """
    words = [DIGIT_WORDS[int(d)] for d in digits if d.isdecimal()]
    if group <= 0:
        return " ".join(words)
    chunks = [" ".join(words[i : i + group]) for i in range(0, len(words), group)]
    return ", ".join(chunks)


def thai_date(day: date, *, spoken: bool = False) -> str:
    """``24 พฤศจิกายน พ.ศ. 2569``: day, Thai month, Buddhist-era year.

    ``spoken`` writes the era out in full (พุทธศักราช), which TTS reads better than "พ.ศ.".
    """
    era = "พุทธศักราช" if spoken else "พ.ศ."
    return f"{day.day} {MONTHS[day.month - 1]} {era} {day.year + BE_OFFSET}"
