"""The one door to LINE: webhook signatures, reply, push and message content, through the
official line-bot-sdk (v3). Every request goes to ``LINE_API_BASE_URL`` (content to LINE's data
host, or the same base when a stand-in is configured), so tests put a local stand-in there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from config import Settings
from hotline.channels.conversation import Reply

TIMEOUT_S = 10.0


@cache
def _sdk() -> tuple[ModuleType, ModuleType, ModuleType]:
    """The SDK (webhook, exceptions, messaging), loaded where LINE is first used: its generated
    models add tens of megabytes to every process, and a deployment without LINE never
    needs them (docs/operations.md)."""
    import linebot.v3 as webhook
    import linebot.v3.exceptions as exceptions
    import linebot.v3.messaging as messaging

    return webhook, exceptions, messaging


MAX_CONTENT_BYTES = 20 * 1024 * 1024


class LineError(RuntimeError):
    """LINE refused or could not be reached; ``status`` is LINE's HTTP status when it answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass(frozen=True, slots=True)
class Content:
    body: bytes
    content_type: str


class Signature:
    """``X-Line-Signature``: HMAC-SHA256 of the raw body with the channel secret, checked by
    the SDK's WebhookParser (constant-time) over the body exactly as received."""

    def __init__(self, channel_secret: str) -> None:
        self._parser = _sdk()[0].WebhookParser(channel_secret)

    def events(self, body: bytes, signature: str | None) -> list[dict[str, Any]] | None:
        """The events of a correctly signed body, as sent; None for a bad signature or body."""
        if not signature:
            return None
        refused = (_sdk()[1].InvalidSignatureError, UnicodeDecodeError, ValueError, KeyError,
                   TypeError)  # fmt: skip
        try:
            text = body.decode("utf-8")
            self._parser.parse(text, signature)
        except refused:
            return None
        events = json.loads(text).get("events", [])
        return [e for e in events if isinstance(e, dict)]


class LineApi:
    """Reply, push and content, with the channel access token, against the configured host."""

    def __init__(self, settings: Settings) -> None:
        token = settings.line_channel_access_token or ""
        sdk = _sdk()[2]
        self._api = sdk.MessagingApi(
            sdk.ApiClient(
                sdk.Configuration(host=settings.line_api_base_url.rstrip("/"), access_token=token)
            )
        )
        self._blob = sdk.MessagingApiBlob(
            sdk.ApiClient(sdk.Configuration(host=settings.line_data_api_base_url,
                                            access_token=token))
        )  # fmt: skip

    def reply(self, reply_token: str, replies: list[Reply]) -> None:
        request = _sdk()[2].ReplyMessageRequest(replyToken=reply_token, messages=_messages(replies))
        self._call(self._api.reply_message, request)

    def push(self, user_id: str, replies: list[Reply], retry_key: str | None = None) -> None:
        request = _sdk()[2].PushMessageRequest(to=user_id, messages=_messages(replies))
        self._call(self._api.push_message, request, x_line_retry_key=retry_key)

    def content(self, message_id: str) -> Content:
        answer = self._call(self._blob.get_message_content_with_http_info, message_id)
        body = bytes(answer.data)
        if len(body) > MAX_CONTENT_BYTES:
            raise LineError("content larger than allowed")
        headers = answer.headers or {}
        content_type = str(headers.get("Content-Type") or headers.get("content-type") or "")
        return Content(body, content_type.split(";")[0].strip().lower())

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=TIMEOUT_S, **kwargs)
        except _sdk()[2].ApiException as exc:
            raise LineError(f"LINE answered {exc.status}", exc.status) from exc
        except OSError as exc:  # urllib3's connection and time-out errors are OSErrors
            raise LineError(f"LINE unreachable: {type(exc).__name__}") from exc
        except Exception as exc:  # urllib3.exceptions.HTTPError and kin
            if type(exc).__module__.startswith("urllib3"):
                raise LineError(f"LINE unreachable: {type(exc).__name__}") from exc
            raise


def _messages(replies: list[Reply]) -> list[Any]:
    return [_text_message(r) for r in replies[:5]]  # LINE takes at most 5 per request


def _text_message(reply: Reply) -> Any:
    sdk = _sdk()[2]
    if not reply.quick:
        return sdk.TextMessage(text=reply.text[:5000])
    items = []
    for button in reply.quick[:13]:
        action: Any
        if button.location:
            action = sdk.LocationAction(label=button.label)
        elif button.data is not None:
            action = sdk.PostbackAction(label=button.label, data=button.data,
                                        displayText=button.label)  # fmt: skip
        else:
            action = sdk.MessageAction(label=button.label, text=button.label)
        items.append(sdk.QuickReplyItem(action=action))
    return sdk.TextMessage(text=reply.text[:5000], quickReply=sdk.QuickReply(items=items))
