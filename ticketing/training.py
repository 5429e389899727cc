"""Practice scenarios for trainee agents, and how a practice ticket is scored against one.

Trainers write scenarios in YAML (one file each, see ticketing/scenarios/ and
docs/simulator_training.md): the caller, what the caller says, and what a correct ticket holds.
Loading validates every field; an error names the file and the field. Scoring is pure: each
field, each fact the description must mention (keywords or synonyms, matched on Thai text
normalised with pythainlp), and the time taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pythainlp.util import normalize, thai_digit_to_arabic_digit

from ticketing.categories import CATEGORY_SEEDS
from ticketing.citizen_id import is_valid_citizen_id, normalize_citizen_id
from ticketing.errors import TicketingError
from ticketing.locations import validate_location

SHIPPED_SCENARIOS = Path(__file__).parent / "scenarios"
SCENARIO_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
CATEGORY_CODES = frozenset(seed.code for seed in CATEGORY_SEEDS)

# Points per part of the ticket. A part the scenario does not ask for is not scored.
CATEGORY_POINTS = 25
PROVINCE_POINTS = 10
DISTRICT_POINTS = 5
CITIZEN_ID_POINTS = 15
FACTS_POINTS = 35
TIME_POINTS = 10


class ScenarioError(ValueError):
    """A scenario file is wrong; the message names the file and the field."""

    def __init__(self, file: Path | str, field: str, problem: str) -> None:
        super().__init__(f"{Path(file).name}: {field}: {problem}")
        self.file, self.field, self.problem = str(file), field, problem


@dataclass(frozen=True, slots=True)
class Fact:
    """Something the description must mention; any one of its keywords counts."""

    text: str
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    profile: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Expected:
    category: str
    province_code: str
    district_code: str | None
    citizen_id: str | None
    facts: tuple[Fact, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    title: str
    caller: Caller
    story: tuple[str, ...]
    expected: Expected
    target_seconds: int


# Loading ----------------------------------------------------------------------------------------


def load_scenarios(directory: Path | None) -> dict[str, Scenario]:
    """Every ``*.yaml`` scenario in ``directory`` (the shipped examples when None), by id."""
    folder = directory or SHIPPED_SCENARIOS
    if not folder.is_dir():
        raise ScenarioError(folder, "TRAINING_SCENARIOS_DIR", "not a directory")
    scenarios = [load_scenario(path) for path in sorted(folder.glob("*.yaml"))]
    return {scenario.id: scenario for scenario in scenarios}


def load_scenario(path: Path) -> Scenario:
    if not SCENARIO_ID.match(path.stem):
        raise ScenarioError(path, "file name", "use lower-case letters, digits, - and _")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "YAML", str(exc).splitlines()[0]) from exc
    reader = _Reader(path, raw, "")
    caller = reader.mapping("caller")
    expected = reader.mapping("expected")
    return Scenario(
        id=path.stem,
        title=reader.text("title"),
        caller=Caller(
            name=caller.text("name"),
            profile=caller.text("profile"),
            phone=caller.optional_text("phone"),
        ),
        story=tuple(reader.texts("story")),
        expected=_expected(path, expected),
        target_seconds=reader.positive_int("target_seconds"),
    )


def _expected(path: Path, expected: _Reader) -> Expected:
    category = expected.text("category")
    if category not in CATEGORY_CODES:
        raise ScenarioError(path, "expected.category", f"unknown category {category!r}")
    province, district = expected.text("province"), expected.optional_text("district")
    try:
        location = validate_location(province, district)
    except TicketingError as exc:
        raise ScenarioError(path, "expected.province/district", exc.message) from exc
    citizen_id = expected.optional_text("citizen_id")
    if citizen_id is not None and not is_valid_citizen_id(citizen_id):
        raise ScenarioError(path, "expected.citizen_id", "not a valid Thai citizen ID")
    facts = tuple(
        Fact(fact.text("fact"), tuple(fact.texts("keywords")))
        for fact in expected.mappings("facts")
    )
    return Expected(
        category=category,
        province_code=location.province_code,
        district_code=location.district_code,
        citizen_id=normalize_citizen_id(citizen_id) if citizen_id else None,
        facts=facts,
    )


class _Reader:
    """Typed access to one YAML mapping; errors carry the file and the dotted field name."""

    def __init__(self, path: Path, raw: object, prefix: str) -> None:
        if not isinstance(raw, Mapping):
            raise ScenarioError(path, prefix or "scenario", "must be a mapping of fields")
        self.path, self.raw, self.prefix = path, raw, prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _fail(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.path, self._name(key), problem)

    def _get(self, key: str) -> Any:
        if key not in self.raw:
            raise self._fail(key, "missing")
        return self.raw[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str | int) or not str(value).strip():
            raise self._fail(key, "must be non-empty text")
        return str(value).strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.raw.get(key) not in (None, "") else None

    def texts(self, key: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not value:
            raise self._fail(key, "must be a non-empty list")
        if not all(isinstance(item, str) and item.strip() for item in value):
            raise self._fail(key, "every item must be non-empty text")
        return [item.strip() for item in value]

    def mapping(self, key: str) -> _Reader:
        return _Reader(self.path, self._get(key), f"{self._name(key)}.")

    def mappings(self, key: str) -> list[_Reader]:
        value = self._get(key)
        if not isinstance(value, list) or not value:
            raise self._fail(key, "must be a non-empty list")
        return [
            _Reader(self.path, item, f"{self._name(key)}[{i}].") for i, item in enumerate(value)
        ]

    def positive_int(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self._fail(key, "must be a whole number of seconds above 0")
        return value


# Scoring ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraineeTicket:
    """What the trainee filed, and how long it took from the start of the practice call."""

    category: str
    province_code: str | None
    district_code: str | None
    citizen_id: str | None
    description: str
    seconds: int


@dataclass(frozen=True, slots=True)
class ScoreItem:
    part: str  # category, province, district, citizen_id, fact, time
    points: float
    max_points: float
    expected: str
    got: str


@dataclass(frozen=True, slots=True)
class Score:
    items: tuple[ScoreItem, ...]

    @property
    def points(self) -> float:
        return round(sum(item.points for item in self.items), 1)

    @property
    def max_points(self) -> float:
        return round(sum(item.max_points for item in self.items), 1)

    @property
    def percent(self) -> int:
        return round(100 * self.points / self.max_points) if self.max_points else 0


def score_ticket(scenario: Scenario, filed: TraineeTicket) -> Score:
    expected = scenario.expected
    items = [_exact("category", CATEGORY_POINTS, expected.category, filed.category)]
    district_expected = expected.district_code is not None
    province_points = PROVINCE_POINTS + (0 if district_expected else DISTRICT_POINTS)
    items.append(_exact("province", province_points, expected.province_code, filed.province_code))
    if expected.district_code is not None:
        items.append(
            _exact("district", DISTRICT_POINTS, expected.district_code, filed.district_code)
        )
    if expected.citizen_id is not None:
        got = _digits(filed.citizen_id or "")
        items.append(_exact("citizen_id", CITIZEN_ID_POINTS, expected.citizen_id, got))
    description = normalise_thai(filed.description)
    per_fact = FACTS_POINTS / len(expected.facts)
    for fact in expected.facts:
        found = next((k for k in fact.keywords if normalise_thai(k) in description), None)
        items.append(
            ScoreItem("fact", per_fact if found else 0.0, per_fact, fact.text, found or "")
        )
    items.append(_time(scenario.target_seconds, filed.seconds))
    return Score(tuple(items))


def normalise_thai(text: str) -> str:
    """For matching: pythainlp's normal form, Arabic digits, lower case, no spaces at all
    (Thai is written without spaces between words, so trainees space it differently)."""
    clean = thai_digit_to_arabic_digit(normalize(text)).lower()
    return re.sub(r"[\s\u200b\u200c\u200d\ufeff]+", "", clean)


def _exact(part: str, points: float, expected: str, got: str | None) -> ScoreItem:
    return ScoreItem(part, points if got == expected else 0.0, points, expected, got or "")


def _digits(text: str) -> str:
    return "".join(ch for ch in thai_digit_to_arabic_digit(text) if ch.isdigit())


def _time(target_s: int, seconds: int) -> ScoreItem:
    """Full points within the target; falls to nothing at twice the target."""
    over = max(0, seconds - target_s)
    share = max(0.0, 1 - over / target_s)
    return ScoreItem(
        "time", round(TIME_POINTS * share, 1), TIME_POINTS, str(target_s), str(seconds)
    )
