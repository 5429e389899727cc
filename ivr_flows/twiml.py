"""The one TwiML writer: every document the product answers Twilio with is written here.

twilio's VoiceResponse builds an ElementTree and serialises it, which costs more than the rest of
a menu step. This writes the same document as a string: attributes lower-camel-cased, sorted and
escaped exactly as VoiceResponse does, booleans as ``true``/``false``, ``None`` left out.
tests/unit/test_twiml_writer.py holds the two byte for byte to each other on every node of the
flows we ship.
"""

from __future__ import annotations

import re
from functools import cache

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_ATTR_SPECIAL = re.compile('[&<>"\r\n\t]')
_TEXT_SPECIAL = re.compile("[&<>]")

Value = str | int | bool | None


@cache
def _camel(name: str) -> str:
    if "_" not in name:
        return name
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _text(value: str) -> str:
    if _TEXT_SPECIAL.search(value) is None:  # the usual case: nothing to escape
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _ATTR_SPECIAL.search(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
    return text.replace("\t", "&#09;")


def _attrs(attrs: dict[str, Value]) -> str:
    names = _in_document_order(tuple(k for k, v in attrs.items() if v is not None))
    return "".join(f' {camel}="{_attr(attrs[name])}"' for name, camel in names)


@cache
def _in_document_order(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(argument name, attribute name) pairs sorted by attribute name, worked out once per
    verb signature: the renderer uses a handful of them."""
    return tuple(sorted(((name, _camel(name)) for name in names), key=lambda pair: pair[1]))


class Element:
    """A verb (or the Response) and what it contains."""

    __slots__ = ("_children", "_name", "_open")

    def __init__(self, name: str, attrs: dict[str, Value], text: str | None = None) -> None:
        self._name = name
        self._open = f"<{name}{_attrs(attrs)}"
        self._children: list[str | Element] = [_text(text)] if text else []

    def _add(self, name: str, text: str | None = None, **attrs: Value) -> Element:
        child = Element(name, attrs, text)
        self._children.append(child)
        return child

    def xml(self) -> str:
        if not self._children:
            return self._open + " />"
        inner = "".join(c if isinstance(c, str) else c.xml() for c in self._children)
        return f"{self._open}>{inner}</{self._name}>"

    # The verbs ------------------------------------------------------------------------------

    def say(self, text: str, **attrs: Value) -> Element:
        return self._add("Say", text, **attrs)

    def play(self, url: str, **attrs: Value) -> Element:
        return self._add("Play", url, **attrs)

    def pause(self, **attrs: Value) -> Element:
        return self._add("Pause", None, **attrs)

    def gather(self, **attrs: Value) -> Element:
        return self._add("Gather", None, **attrs)

    def redirect(self, url: str, **attrs: Value) -> Element:
        return self._add("Redirect", url, **attrs)

    def record(self, **attrs: Value) -> Element:
        return self._add("Record", None, **attrs)

    def enqueue(self, name: str | None, **attrs: Value) -> Element:
        return self._add("Enqueue", name, **attrs)

    def dial(self, number: str | None, **attrs: Value) -> Element:
        return self._add("Dial", number, **attrs)

    def hangup(self) -> Element:
        return self._add("Hangup")

    def leave(self) -> Element:
        """Take a queued caller out of the queue (Twilio then calls the <Enqueue> action)."""
        return self._add("Leave")

    def queue(self, name: str, **attrs: Value) -> Element:
        """A <Queue> noun inside <Dial>: bridge the queue's longest-waiting caller."""
        return self._add("Queue", name, **attrs)

    def message(self, text: str, **attrs: Value) -> Element:
        """A messaging reply (<Message>) in an SMS webhook's answer."""
        return self._add("Message", text, **attrs)


class Response(Element):
    """The TwiML document: ``str()`` gives it with its XML declaration, as Twilio expects."""

    def __init__(self) -> None:
        super().__init__("Response", {})

    def __str__(self) -> str:
        return DECLARATION + self.xml()


EMPTY_TWIML = str(Response())  # the answer to every callback that needs none
