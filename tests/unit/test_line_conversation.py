"""The guided complaint by LINE chat, as rules (no database, no network), and LINE's settings."""

from __future__ import annotations

import pytest

from config import Settings
from config.settings import SettingsError
from hotline.channels.conversation import (
    LABEL_MAX,
    QUICK_REPLY_MAX,
    Incoming,
    advance,
    category_buttons,
    incoming_from_event,
)


def say(words: str) -> Incoming:
    return Incoming("text", text=words)


def test_line_is_off_without_its_settings_and_refuses_half_of_them() -> None:
    assert not Settings().line_enabled
    assert Settings.from_env({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}
                             ).line_enabled  # fmt: skip
    with pytest.raises(SettingsError, match="LINE_CHANNEL_ACCESS_TOKEN"):
        Settings.from_env({"LINE_CHANNEL_SECRET": "s"})
    with pytest.raises(SettingsError, match="LINE_API_BASE_URL"):
        Settings.from_env({"LINE_API_BASE_URL": "ftp://line"})


def test_content_comes_from_lines_data_host_or_the_stand_in() -> None:
    assert Settings().line_data_api_base_url == "https://api-data.line.me"
    local = Settings(line_api_base_url="http://127.0.0.1:8123/")
    assert local.line_data_api_base_url == "http://127.0.0.1:8123"


def test_categories_fit_lines_quick_reply_limits() -> None:
    buttons = category_buttons()
    assert 0 < len(buttons) <= QUICK_REPLY_MAX
    assert all(0 < len(b.label) <= LABEL_MAX for b in buttons)
    assert len({b.label for b in buttons}) == len(buttons)


def test_the_whole_path_to_filing() -> None:
    step = advance("idle", {}, say("สวัสดี"))
    assert step.state == "category"
    step = advance(step.state, step.data, Incoming("postback", data="category=land"))
    assert step.state == "postal" and step.data["category_code"] == "land"
    step = advance(step.state, step.data, say("50200"))
    assert step.state == "describe" and step.data["district_code"] == "5001"
    step = advance(step.state, step.data, Incoming("postback", data="submit"))
    assert step.state == "describe" and not step.file  # the citizen's words come first
    step = advance(step.state, step.data, say("น้ำประปาไม่ไหลสามวันแล้ว"))
    step = advance(step.state, step.data, say("ส่งเรื่อง"))
    assert step.file and step.data["description"] == "น้ำประปาไม่ไหลสามวันแล้ว"


def test_a_category_not_offered_is_asked_again() -> None:
    step = advance("category", {}, Incoming("postback", data="category=../../etc"))
    assert step.state == "category" and "category_code" not in step.data


def test_track_and_cancel_work_from_any_step() -> None:
    assert advance("postal", {"category_code": "land"}, say("ติดตามเรื่อง")).track
    step = advance("describe", {"description": "x"}, say("ยกเลิก"))
    assert step.state == "idle" and step.data == {}


def test_media_is_kept_only_while_describing_and_at_most_ten() -> None:
    photo = Incoming("image", message_id="1")
    step = advance("describe", {"place": "x"}, photo)
    assert step.attachment == photo and step.data["attachments"] == 1
    full = advance("describe", {"attachments": 10}, photo)
    assert full.attachment is None


def test_events_are_read_by_kind() -> None:
    text = incoming_from_event({"type": "message", "message": {"type": "text", "id": "1",
                                                               "text": " ร้องเรียน "}})  # fmt: skip
    assert (text.kind, text.text) == ("text", "ร้องเรียน")
    assert incoming_from_event({"type": "follow"}).kind == "follow"
    assert incoming_from_event({"type": "unsend"}).kind == "other"
    file = incoming_from_event(
        {"type": "message", "message": {"type": "file", "id": "2", "fileName": "a.pdf"}}
    )
    assert (file.kind, file.file_name) == ("file", "a.pdf")


def test_the_opt_out_words_keep_the_step() -> None:
    stop = advance("describe", {"description": "x"}, say("หยุดแจ้งเตือน"))
    assert stop.notify is False and stop.state == "describe" and stop.data == {"description": "x"}
    assert advance("idle", {}, say("รับแจ้งเตือน")).notify is True
    assert advance("idle", {}, say("สวัสดี")).notify is None
