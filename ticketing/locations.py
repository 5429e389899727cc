"""Where a complaint happened, as DOPA codes checked against ``geothai``.

Codes decide which Damrongdhamma Center is responsible, so an unknown code or a district filed
under the wrong province must be refused when the ticket is written, not discovered on referral.

Thai place names take a level word that differs in Bangkok: อำเภอ/ตำบล/จังหวัด elsewhere,
เขต/แขวง and no จังหวัด in กรุงเทพมหานคร. ``geothai`` already prefixes Bangkok districts with
"เขต" (``เขตพระนคร``) but not other districts with "อำเภอ", so labels add only what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geothai
from geothai.types import District, Province, Subdistrict

from ticketing.errors import ValidationError

BANGKOK_CODE = "10"
_PROVINCE_CODE = re.compile(r"[0-9]{2}")
_DISTRICT_CODE = re.compile(r"[0-9]{4}")
_SUBDISTRICT_CODE = re.compile(r"[0-9]{6}")
_POSTAL_CODE = re.compile(r"[0-9]{5}")


@dataclass(frozen=True, slots=True)
class Location:
    """A checked place: build it with ``validate_location``."""

    province_code: str
    district_code: str | None = None
    subdistrict_code: str | None = None
    postal_code: str | None = None

    @property
    def province_name_th(self) -> str:
        return _province_by_code(self.province_code).name_th

    @property
    def district_name_th(self) -> str | None:
        """The district as ``geothai`` names it (Bangkok's with their "เขต")."""
        if self.district_code is None:
            return None
        return _district_by_code(self.district_code).name_th

    @property
    def label_th(self) -> str:
        """The place as written in a Thai address, e.g. ``อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่``."""
        in_bangkok = self.province_code == BANGKOK_CODE
        parts: list[str] = []
        if self.subdistrict_code is not None:
            name = _subdistrict_by_code(self.subdistrict_code).name_th
            parts.append(_with_level_word(name, "แขวง" if in_bangkok else "ตำบล"))
        if self.district_code is not None:
            name = _district_by_code(self.district_code).name_th
            parts.append(_with_level_word(name, "เขต" if in_bangkok else "อำเภอ"))
        province_name = _province_by_code(self.province_code).name_th
        parts.append(province_name if in_bangkok else _with_level_word(province_name, "จังหวัด"))
        if self.postal_code is not None:
            parts.append(self.postal_code)
        return " ".join(parts)

    @property
    def label_en(self) -> str:
        """The place in English, e.g. ``Mueang Chiang Mai District, Chiang Mai Province``."""
        parts: list[str] = []
        if self.subdistrict_code is not None:
            parts.append(f"{_subdistrict_by_code(self.subdistrict_code).name_en} Subdistrict")
        if self.district_code is not None:
            parts.append(f"{_district_by_code(self.district_code).name_en} District")
        province_name = _province_by_code(self.province_code).name_en
        parts.append(
            province_name if self.province_code == BANGKOK_CODE else f"{province_name} Province"
        )
        label = ", ".join(parts)
        return f"{label} {self.postal_code}" if self.postal_code is not None else label


@dataclass(frozen=True, slots=True)
class DistrictCandidate:
    """A district a postal code may point to; one code can span districts and even provinces."""

    province_code: str
    district_code: str
    province_name_th: str
    district_name_th: str
    province_name_en: str
    district_name_en: str


def validate_location(
    province_code: str,
    district_code: str | None = None,
    subdistrict_code: str | None = None,
    postal_code: str | None = None,
) -> Location:
    """Check that every code exists and each lies inside the one above it.

    Blank strings count as "not given", as HTML forms send them. A subdistrict needs its district.
    The postal code must be used by the most precise area given.
    """
    province = _province_by_code(province_code.strip())
    district = _district_in(_blank_to_none(district_code), province)
    subdistrict = _subdistrict_in(_blank_to_none(subdistrict_code), district)
    postal = _postal_code_in(_blank_to_none(postal_code), province, district, subdistrict)
    return Location(
        province_code=province.code,
        district_code=district.code if district else None,
        subdistrict_code=subdistrict.code if subdistrict else None,
        postal_code=postal,
    )


def districts_for_postal_code(postal_code: str) -> list[DistrictCandidate]:
    """The districts that use ``postal_code``, sorted by code, to narrow a caller's location.

    Empty for a well-formed code no area uses; ValidationError for a malformed one.
    """
    postal = _well_formed_postal_code(postal_code.strip())
    district_codes = sorted({s.district_code for s in geothai.by_postal_code(postal)})
    return [_candidate(_district_by_code(code)) for code in district_codes]


def province_choices() -> list[tuple[str, str, str]]:
    """``(code, name_th, name_en)`` of every province, by code, for pickers."""
    return [(p.code, p.name_th, p.name_en) for p in geothai.provinces()]


def district_choices(province_code: str) -> list[tuple[str, str, str]]:
    """``(code, name_th, name_en)`` of the districts of a province, by code, for pickers."""
    province = _province_by_code(province_code.strip())
    return [(d.code, d.name_th, d.name_en) for d in geothai.districts(province.code)]


def subdistrict_choices(district_code: str) -> list[tuple[str, str, str]]:
    """``(code, name_th, name_en)`` of the subdistricts of a district, by code, for pickers."""
    district = _district_by_code(district_code.strip())
    return [(s.code, s.name_th, s.name_en) for s in geothai.subdistricts(district.code)]


def _province_by_code(code: str) -> Province:
    if not _PROVINCE_CODE.fullmatch(code):
        raise ValidationError(
            f"a province code has 2 digits; {code!r} is not one", field="province_code"
        )
    province = geothai.province(code)
    if province is None:
        raise ValidationError(f"there is no province with code {code}", field="province_code")
    return province


def _district_by_code(code: str) -> District:
    if not _DISTRICT_CODE.fullmatch(code):
        raise ValidationError(
            f"a district code has 4 digits; {code!r} is not one", field="district_code"
        )
    district = geothai.district(code)
    if district is None:
        raise ValidationError(f"there is no district with code {code}", field="district_code")
    return district


def _district_in(code: str | None, province: Province) -> District | None:
    if code is None:
        return None
    district = _district_by_code(code)
    if district.province_code != province.code:
        raise ValidationError(
            f"district {district.code} ({district.name_en}) is not in province "
            f"{province.code} ({province.name_en})",
            field="district_code",
        )
    return district


def _subdistrict_by_code(code: str) -> Subdistrict:
    if not _SUBDISTRICT_CODE.fullmatch(code):
        raise ValidationError(
            f"a subdistrict code has 6 digits; {code!r} is not one", field="subdistrict_code"
        )
    subdistrict = geothai.subdistrict(code)
    if subdistrict is None:
        raise ValidationError(f"there is no subdistrict with code {code}", field="subdistrict_code")
    return subdistrict


def _subdistrict_in(code: str | None, district: District | None) -> Subdistrict | None:
    if code is None:
        return None
    subdistrict = _subdistrict_by_code(code)
    if district is None:
        raise ValidationError("choose the district before the subdistrict", field="district_code")
    if subdistrict.district_code != district.code:
        raise ValidationError(
            f"subdistrict {subdistrict.code} ({subdistrict.name_en}) is not in district "
            f"{district.code} ({district.name_en})",
            field="subdistrict_code",
        )
    return subdistrict


def _postal_code_in(
    code: str | None,
    province: Province,
    district: District | None,
    subdistrict: Subdistrict | None,
) -> str | None:
    if code is None:
        return None
    postal = _well_formed_postal_code(code)
    if postal in _postal_codes_of(province, district, subdistrict):
        return postal
    area_name = (subdistrict or district or province).name_en
    raise ValidationError(f"postal code {postal} is not used in {area_name}", field="postal_code")


def _postal_codes_of(
    province: Province, district: District | None, subdistrict: Subdistrict | None
) -> set[str]:
    if subdistrict is not None:
        return set(subdistrict.postal_codes)
    if district is not None:
        return {p for s in geothai.subdistricts(district.code) for p in s.postal_codes}
    return {
        p
        for d in geothai.districts(province.code)
        for s in geothai.subdistricts(d.code)
        for p in s.postal_codes
    }


def _well_formed_postal_code(code: str) -> str:
    if not _POSTAL_CODE.fullmatch(code):
        raise ValidationError(
            f"a postal code has 5 digits; {code!r} is not one", field="postal_code"
        )
    return code


def _candidate(district: District) -> DistrictCandidate:
    province = _province_by_code(district.province_code)
    return DistrictCandidate(
        province_code=province.code,
        district_code=district.code,
        province_name_th=province.name_th,
        district_name_th=district.name_th,
        province_name_en=province.name_en,
        district_name_en=district.name_en,
    )


def _with_level_word(name: str, level_word: str) -> str:
    return name if name.startswith(level_word) else f"{level_word}{name}"


def _blank_to_none(code: str | None) -> str | None:
    if code is None:
        return None
    stripped = code.strip()
    return stripped or None
