"""Errors of the complaint domain, each with a message fit to show whoever caused it."""

from __future__ import annotations


class TicketingError(Exception):
    """Base of every error the ticketing package raises on purpose."""

    code = "ticketing_error"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Which rule of the field was broken, a stable code ("check_digit", "too_long") that a
        # user interface turns into its own words; the message is English for logs and the API.
        self.rule = rule

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ValidationError(TicketingError, ValueError):
    """Input that cannot be accepted: a bad citizen ID, an unknown district, an empty text."""

    code = "invalid"


class IllegalTransitionError(TicketingError):
    """A status change the ticket workflow does not allow."""

    code = "illegal_transition"

    def __init__(self, current: str, target: str, reason: str) -> None:
        super().__init__(
            f"cannot change status from {current} to {target}: {reason}", field="status"
        )
        self.current = current
        self.target = target
        self.reason = reason


class NotFoundError(TicketingError, LookupError):
    """A record named by the caller does not exist."""

    code = "not_found"


class PermissionDeniedError(TicketingError):
    """The acting user's role or center does not allow this."""

    code = "forbidden"
