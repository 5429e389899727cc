from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, SettingsError

PRODUCTION = {
    "HOTLINE_ENV": "production",
    "SECRET_KEY": "x" * 40,
    "PUBLIC_BASE_URL": "https://hotline.example.go.th",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "a-real-token",
    "DATABASE_URL": "postgresql://hotline@db/hotline",
    "REDIS_URL": "redis://cache:6379/0",
}


def test_embedded_defaults_need_no_variables(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_DIR": str(tmp_path)})
    assert settings.environment == "embedded"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'hotline.sqlite3'}"
    assert settings.jobs_inline and settings.redis_url is None
    assert settings.tts_voice == "Google.th-TH-Standard-A"
    assert settings.tz.key == "Asia/Bangkok"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.secret_key = "changed"  # type: ignore[misc]


def test_production_with_everything_starts() -> None:
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production and not settings.jobs_inline


@pytest.mark.parametrize(
    "missing",
    ["SECRET_KEY", "PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "DATABASE_URL"],
)
def test_production_names_each_missing_secret(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


def test_production_lists_all_missing_secrets_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"HOTLINE_ENV": "production"})
    for name in ("SECRET_KEY", "PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOTLINE_ENV", "staging"),
        ("RECORDINGS_BACKEND", "ftp"),
        ("PUBLIC_BASE_URL", "hotline.example"),
        ("TWILIO_API_BASE_URL", "ftp://api"),
        ("REDIS_URL", "http://cache"),
        ("DATABASE_URL", "mysql://db"),
        ("TIMEZONE", "Mars/Olympus"),
        ("RECORDING_MAX_SECONDS", "fifteen"),
        ("RECORDING_MAX_SECONDS", "5"),
        ("TWILIO_SIGNATURE_CHECK", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("DEADLINE_REMINDER_DAYS", "0"),
        ("DEADLINE_REMINDER_DAYS", "soon"),
        ("OPEN311_PUBLIC_READ", "perhaps"),
        ("METRICS_SERVICE_LEVEL_S", "0"),
        ("METRICS_SHORT_ABANDON_S", "61"),
        ("METRICS_SL_ABANDONS", "sometimes"),
    ],
)
def test_wrong_values_fail_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_signature_check_may_be_off_only_when_embedded() -> None:
    assert not Settings.from_env({"TWILIO_SIGNATURE_CHECK": "false"}).twilio_signature_check
    with pytest.raises(SettingsError, match="TWILIO_SIGNATURE_CHECK"):
        Settings.from_env({**PRODUCTION, "TWILIO_SIGNATURE_CHECK": "0"})


def test_s3_backend_needs_a_bucket() -> None:
    with pytest.raises(SettingsError, match="S3_BUCKET"):
        Settings.from_env({"RECORDINGS_BACKEND": "s3"})


def test_the_embedded_demo_simulates_telephony_and_production_does_not(tmp_path: Path) -> None:
    embedded = Settings.from_env({"INSTANCE_DIR": str(tmp_path)})
    assert embedded.telephony_simulated
    production = Settings.from_env({**PRODUCTION, "INSTANCE_DIR": str(tmp_path)})
    assert not production.telephony_simulated


def test_the_browser_phone_names_the_settings_it_still_needs() -> None:
    assert Settings().voice_sdk_missing == [
        "TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_TWIML_APP_SID"
    ]  # fmt: skip
    configured = Settings.from_env({"TWILIO_API_KEY_SID": "SK" + "1" * 32,
                                    "TWILIO_API_KEY_SECRET": "s" * 32,
                                    "TWILIO_TWIML_APP_SID": "AP" + "2" * 32})  # fmt: skip
    assert configured.voice_sdk_missing == []


def test_the_simulator_and_training_run_embedded_or_in_training_mode_never_in_production(
    tmp_path: Path,
) -> None:
    assert Settings().simulator_enabled
    assert not Settings.from_env(PRODUCTION).simulator_enabled
    assert not Settings(environment="test").simulator_enabled
    training = Settings.from_env({"HOTLINE_ENV": "test", "TRAINING_MODE": "on",
                                  "TRAINING_SCENARIOS_DIR": str(tmp_path)})  # fmt: skip
    assert training.simulator_enabled and training.training_scenarios_dir == tmp_path
    # Its media host is the app itself, as in the demo.
    assert training.twilio_api_base_url.endswith("/simulator/twilio")
    with pytest.raises(SettingsError, match="TRAINING_MODE"):
        Settings.from_env({**PRODUCTION, "TRAINING_MODE": "true"})
    with pytest.raises(SettingsError, match="TRAINING_MODE"):
        Settings.from_env({"TRAINING_MODE": "maybe"})


def test_deadline_and_open311_settings() -> None:
    defaults = Settings.from_env({})
    assert defaults.deadline_reminder_days == 2 and defaults.open311_public_read is False
    changed = Settings.from_env({"DEADLINE_REMINDER_DAYS": "3", "OPEN311_PUBLIC_READ": "true"})
    assert changed.deadline_reminder_days == 3 and changed.open311_public_read is True


def test_metrics_thresholds_default_to_the_industry_convention_and_can_be_set() -> None:
    defaults = Settings()
    assert (defaults.metrics_service_level_s, defaults.metrics_short_abandon_s) == (20, 5)
    assert defaults.metrics_sl_abandons == "count_against"
    chosen = Settings.from_env({"METRICS_SERVICE_LEVEL_S": "30", "METRICS_SHORT_ABANDON_S": "0",
                                "METRICS_SL_ABANDONS": "ignore"})  # fmt: skip
    assert (chosen.metrics_service_level_s, chosen.metrics_short_abandon_s) == (30, 0)
    assert chosen.metrics_sl_abandons == "ignore"
