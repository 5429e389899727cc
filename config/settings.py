"""Typed settings, read once from the environment.

This module is the only code in the project that reads ``os.environ``. Everything else receives
a :class:`Settings` value, so tests build one explicitly and nothing depends on import order.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENVIRONMENTS = ("embedded", "production", "test")
RECORDINGS_BACKENDS = ("fs", "s3")
LOG_FORMATS = ("text", "json")
# count_against: in SL / (answered + abandoned); ignore: in SL / answered;
# count_in_sl: (in SL + abandoned within the threshold) / (answered + abandoned)
SL_ABANDON_RULES = ("count_against", "ignore", "count_in_sl")
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:5000"


class SettingsError(ValueError):
    """A setting is missing or has a value the application cannot use."""


def _default_instance_dir() -> Path:
    return Path.cwd() / "instance"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of the application. Defaults are the embedded (one machine, no services) mode."""

    environment: str = "embedded"
    instance_dir: Path = field(default_factory=_default_instance_dir)
    database_url: str = ""
    redis_url: str | None = None
    # Public demo values: production refuses to start with them (see _require_production_secrets).
    secret_key: str = "embedded-demo-secret-key-not-for-production"  # noqa: S105
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "embedded-demo-auth-token"  # noqa: S105
    twilio_api_key_sid: str | None = None
    twilio_api_key_secret: str | None = None
    twilio_twiml_app_sid: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_signature_check: bool = True
    hotline_number: str = "1567"
    recordings_backend: str = "fs"
    recordings_dir: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "recordings/"
    s3_endpoint_url: str | None = None
    ivr_flow: str = "1567"
    tts_voice: str = "Google.th-TH-Standard-A"
    tts_language: str = "th-TH"
    timezone: str = "Asia/Bangkok"
    log_format: str = "text"
    log_level: str = "INFO"
    recording_max_seconds: int = 180
    call_log_batch_ms: int = 50
    recording_retention_days: int = 365  # what the IVR's privacy notice promises (one year)
    recordings_delete_from_twilio: bool = True  # one copy, ours, under our retention rules
    recordings_sweep_after_s: int = 300
    twilio_http_timeout_s: float = 30.0
    twilio_sms_from: str | None = None  # a sender number or ID for citizen SMS …
    twilio_messaging_service_sid: str | None = None  # … or a Messaging Service (preferred)
    proxy_hops: int = 0  # TLS proxies in front that set X-Forwarded-For/-Proto (0: none)
    # A training instance: the browser phone and practice calls (never on production).
    training_mode: bool = False
    training_scenarios_dir: Path | None = None  # unset: ticketing/scenarios (the examples)
    deadline_reminder_days: int = 2  # business days before a deadline that reminders go out
    open311_public_read: bool = False  # Open311 reads without an api_key (complaints are private)
    metrics_service_level_s: int = 20  # answered within this many seconds counts as "in SL"
    metrics_short_abandon_s: int = 5  # queue abandons quicker than this are shown apart
    metrics_sl_abandons: str = "count_against"  # how queue abandons enter the service level
    # LINE Official Account (docs/channels.md): both secrets unset switch the channel off.
    line_channel_secret: str | None = None
    line_channel_access_token: str | None = None
    line_api_base_url: str = "https://api.line.me"
    track_max_lookups: int = 10  # /track look-ups per address per quarter hour

    def __post_init__(self) -> None:
        _check_choice("HOTLINE_ENV", self.environment, ENVIRONMENTS)
        _check_choice("RECORDINGS_BACKEND", self.recordings_backend, RECORDINGS_BACKENDS)
        _check_choice("LOG_FORMAT", self.log_format, LOG_FORMATS)
        _check_http_url("PUBLIC_BASE_URL", self.public_base_url)
        _check_http_url("TWILIO_API_BASE_URL", self.twilio_api_base_url)
        _check_http_url("LINE_API_BASE_URL", self.line_api_base_url)
        if bool(self.line_channel_secret) != bool(self.line_channel_access_token):
            raise SettingsError(
                "LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN: set both (LINE on) or neither"
            )
        if not 1 <= self.track_max_lookups <= 1000:
            raise SettingsError("TRACK_MAX_LOOKUPS: must be between 1 and 1000")
        if self.redis_url is not None:
            _check_scheme("REDIS_URL", self.redis_url, ("redis", "rediss", "unix"))
        if self.database_url:
            _check_scheme("DATABASE_URL", self.database_url, ("sqlite", "postgresql"))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"TIMEZONE: unknown time zone {self.timezone!r}") from exc
        if self.recording_retention_days < 0:
            raise SettingsError("RECORDING_RETENTION_DAYS: 0 keeps recordings for ever, else > 0")
        _check_choice("METRICS_SL_ABANDONS", self.metrics_sl_abandons, SL_ABANDON_RULES)
        if not 1 <= self.metrics_service_level_s <= 600:
            raise SettingsError("METRICS_SERVICE_LEVEL_S: must be between 1 and 600")
        if not 0 <= self.metrics_short_abandon_s <= 60:
            raise SettingsError("METRICS_SHORT_ABANDON_S: must be between 0 and 60")
        if not 0 <= self.proxy_hops <= 5:
            raise SettingsError("PROXY_HOPS: the number of trusted proxies, 0 to 5")
        if not 0.1 <= self.twilio_http_timeout_s <= 120:
            raise SettingsError("TWILIO_HTTP_TIMEOUT_S: must be between 0.1 and 120")
        if not 1 <= self.deadline_reminder_days <= 10:
            raise SettingsError("DEADLINE_REMINDER_DAYS: must be between 1 and 10 business days")
        if self.recordings_sweep_after_s < 1:
            raise SettingsError("RECORDINGS_SWEEP_AFTER_S: must be at least 1")
        if not 0 <= self.call_log_batch_ms <= 5000:
            raise SettingsError("CALL_LOG_BATCH_MS: must be between 0 and 5000")
        if not 10 <= self.recording_max_seconds <= 3600:
            raise SettingsError("RECORDING_MAX_SECONDS: must be between 10 and 3600")
        if self.recordings_backend == "s3" and not self.s3_bucket:
            raise SettingsError("S3_BUCKET: required when RECORDINGS_BACKEND=s3")
        if not self.twilio_signature_check and self.environment == "production":
            raise SettingsError(
                "TWILIO_SIGNATURE_CHECK: may be switched off only in the embedded demo"
            )
        if self.training_mode and self.environment == "production":
            raise SettingsError(
                "TRAINING_MODE: practice calls run on a training instance, never in production"
            )
        if self.environment == "production":
            _require_production_secrets(self)

    # Derived values -----------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        """The database URL; the embedded default is a SQLite file under the instance folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_dir / 'hotline.sqlite3'}"

    @property
    def effective_recordings_dir(self) -> Path:
        return self.recordings_dir or self.instance_dir / "recordings"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def telephony_simulated(self) -> bool:
        """No Twilio account: the built-in phone simulator plays Twilio (embedded demo)."""
        return "/simulator/twilio" in self.twilio_api_base_url

    @property
    def voice_sdk_missing(self) -> list[str]:
        """The settings a browser phone (Voice JS SDK access token) still needs."""
        needed = {"TWILIO_API_KEY_SID": self.twilio_api_key_sid,
                  "TWILIO_API_KEY_SECRET": self.twilio_api_key_secret,
                  "TWILIO_TWIML_APP_SID": self.twilio_twiml_app_sid}  # fmt: skip
        return [name for name, value in needed.items() if not value]

    @property
    def simulator_enabled(self) -> bool:
        """The browser phone (/simulator) and its media host: the demo and training only."""
        return self.environment == "embedded" or self.training_mode

    @property
    def line_enabled(self) -> bool:
        """The LINE channel is on when its channel secret and access token are both set."""
        return bool(self.line_channel_secret and self.line_channel_access_token)

    @property
    def line_data_api_base_url(self) -> str:
        """LINE serves message content from its own host; a stand-in serves both from one."""
        base = self.line_api_base_url.rstrip("/")
        return "https://api-data.line.me" if base == "https://api.line.me" else base

    @property
    def jobs_inline(self) -> bool:
        """Without Redis, jobs run in-process right after the transaction that asked for them."""
        return self.redis_url is None

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # Construction -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; unset variables keep their defaults.

        Raises:
            SettingsError: a variable has a value that cannot be used, or production mode lacks
                a secret. The message names the variable.
        """
        env = os.environ if environ is None else environ
        reader = _EnvReader(env)
        values: dict[str, object] = {}
        for spec in _ENV_SPECS:
            raw = reader.get(spec.name)
            if raw is not None:
                values[spec.field] = spec.parse(spec.name, raw)
        embedded = values.get("environment", "embedded") == "embedded"
        if (embedded or values.get("training_mode")) and "twilio_api_base_url" not in values:
            # No Twilio account: the app plays Twilio's media host itself (hotline/simulator_media).
            base = str(values.get("public_base_url", DEFAULT_PUBLIC_BASE_URL)).rstrip("/")
            values["twilio_api_base_url"] = f"{base}/simulator/twilio"
        return cls(**values)  # type: ignore[arg-type]


# Environment parsing ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _EnvSpec:
    name: str
    field: str
    kind: str = "str"

    def parse(self, name: str, raw: str) -> object:
        match self.kind:
            case "str":
                return raw
            case "optional":
                return raw or None
            case "path":
                return Path(raw)
            case "bool":
                return _parse_bool(name, raw)
            case "int":
                return _parse_int(name, raw)
            case "float":
                return _parse_float(name, raw)
        raise AssertionError(self.kind)  # pragma: no cover - the table below is fixed


_ENV_SPECS = (
    _EnvSpec("HOTLINE_ENV", "environment"),
    _EnvSpec("INSTANCE_DIR", "instance_dir", "path"),
    _EnvSpec("DATABASE_URL", "database_url"),
    _EnvSpec("REDIS_URL", "redis_url", "optional"),
    _EnvSpec("SECRET_KEY", "secret_key"),
    _EnvSpec("PUBLIC_BASE_URL", "public_base_url"),
    _EnvSpec("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
    _EnvSpec("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
    _EnvSpec("TWILIO_API_KEY_SID", "twilio_api_key_sid", "optional"),
    _EnvSpec("TWILIO_API_KEY_SECRET", "twilio_api_key_secret", "optional"),
    _EnvSpec("TWILIO_TWIML_APP_SID", "twilio_twiml_app_sid", "optional"),
    _EnvSpec("TWILIO_API_BASE_URL", "twilio_api_base_url"),
    _EnvSpec("TWILIO_SIGNATURE_CHECK", "twilio_signature_check", "bool"),
    _EnvSpec("HOTLINE_NUMBER", "hotline_number"),
    _EnvSpec("RECORDINGS_BACKEND", "recordings_backend"),
    _EnvSpec("RECORDINGS_DIR", "recordings_dir", "path"),
    _EnvSpec("S3_BUCKET", "s3_bucket", "optional"),
    _EnvSpec("S3_PREFIX", "s3_prefix"),
    _EnvSpec("S3_ENDPOINT_URL", "s3_endpoint_url", "optional"),
    _EnvSpec("IVR_FLOW", "ivr_flow"),
    _EnvSpec("TTS_VOICE", "tts_voice"),
    _EnvSpec("TTS_LANGUAGE", "tts_language"),
    _EnvSpec("TIMEZONE", "timezone"),
    _EnvSpec("LOG_FORMAT", "log_format"),
    _EnvSpec("LOG_LEVEL", "log_level"),
    _EnvSpec("RECORDING_MAX_SECONDS", "recording_max_seconds", "int"),
    _EnvSpec("CALL_LOG_BATCH_MS", "call_log_batch_ms", "int"),
    _EnvSpec("RECORDING_RETENTION_DAYS", "recording_retention_days", "int"),
    _EnvSpec("RECORDINGS_DELETE_FROM_TWILIO", "recordings_delete_from_twilio", "bool"),
    _EnvSpec("RECORDINGS_SWEEP_AFTER_S", "recordings_sweep_after_s", "int"),
    _EnvSpec("TWILIO_HTTP_TIMEOUT_S", "twilio_http_timeout_s", "float"),
    _EnvSpec("PROXY_HOPS", "proxy_hops", "int"),
    _EnvSpec("METRICS_SERVICE_LEVEL_S", "metrics_service_level_s", "int"),
    _EnvSpec("METRICS_SHORT_ABANDON_S", "metrics_short_abandon_s", "int"),
    _EnvSpec("METRICS_SL_ABANDONS", "metrics_sl_abandons"),
    _EnvSpec("TWILIO_SMS_FROM", "twilio_sms_from", "optional"),
    _EnvSpec("TWILIO_MESSAGING_SERVICE_SID", "twilio_messaging_service_sid", "optional"),
    _EnvSpec("TRAINING_MODE", "training_mode", "bool"),
    _EnvSpec("TRAINING_SCENARIOS_DIR", "training_scenarios_dir", "path"),
    _EnvSpec("DEADLINE_REMINDER_DAYS", "deadline_reminder_days", "int"),
    _EnvSpec("OPEN311_PUBLIC_READ", "open311_public_read", "bool"),
    _EnvSpec("LINE_CHANNEL_SECRET", "line_channel_secret", "optional"),
    _EnvSpec("LINE_CHANNEL_ACCESS_TOKEN", "line_channel_access_token", "optional"),
    _EnvSpec("LINE_API_BASE_URL", "line_api_base_url"),
    _EnvSpec("TRACK_MAX_LOOKUPS", "track_max_lookups", "int"),
)

# Production must bring its own secrets; the embedded defaults are public and would be a hole.
_PRODUCTION_REQUIRED = (
    ("SECRET_KEY", "secret_key"),
    ("PUBLIC_BASE_URL", "public_base_url"),
    ("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
    ("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
    ("DATABASE_URL", "database_url"),
)


class _EnvReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str) -> str | None:
        value = self._env.get(name)
        return value.strip() if value is not None else None


def _require_production_secrets(settings: Settings) -> None:
    defaults = Settings.__dataclass_fields__
    missing = [
        env_name
        for env_name, attr in _PRODUCTION_REQUIRED
        if getattr(settings, attr) in ("", None, _default_of(defaults[attr]))
    ]
    if len(settings.secret_key) < 32 and "SECRET_KEY" not in missing:
        raise SettingsError("SECRET_KEY: must be at least 32 characters in production")
    if missing:
        raise SettingsError("production needs these environment variables: " + ", ".join(missing))


def _default_of(f: dataclasses.Field[object]) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    return None


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _check_scheme(name: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    if scheme not in schemes:
        raise SettingsError(f"{name}: scheme must be one of {', '.join(schemes)}, got {url!r}")


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}: must be an http(s) URL with a host, got {url!r}")


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from exc


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from exc
