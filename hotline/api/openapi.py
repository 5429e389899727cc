"""The OpenAPI 3 document of /api/v1, served at /api/v1/openapi.json (tests hold it to the code)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}
_TICKET = {
    "type": "object",
    "required": ["number", "channel", "category", "status", "created_at"],
    "properties": {
        "number": {"type": "string", "pattern": "^[0-9]{10,}$"},
        "channel": {"type": "string", "enum": ["phone", "walk_in", "letter", "web", "api", "line"]},
        "category": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "received",
                "accepted",
                "referred",
                "in_progress",
                "resolved",
                "closed",
                "rejected",
                "duplicate",
                "reopened",
            ],
        },
        "status_text_th": {"type": "string"},
        "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
        "description": {"type": "string"},
        "caller_phone_masked": {"type": ["string", "null"]},
        "citizen_id_masked": {"type": ["string", "null"]},
        "province_code": {"type": ["string", "null"]},
        "district_code": {"type": ["string", "null"]},
        "subdistrict_code": {"type": ["string", "null"]},
        "postal_code": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "overdue": {"type": "boolean"},
    },
}
_NEW_TICKET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["channel", "category", "description"],
    "properties": {
        "channel": {"type": "string", "enum": ["walk_in", "letter", "web", "api"]},
        "category": {"type": "string"},
        "description": {"type": "string", "minLength": 1, "maxLength": 10000},
        "caller_phone": {"type": ["string", "null"]},
        "citizen_id": {"type": ["string", "null"], "pattern": "^[0-9 -]{13,17}$"},
        "citizen_name": {"type": ["string", "null"], "maxLength": 200},
        "province_code": {"type": ["string", "null"]},
        "district_code": {"type": ["string", "null"]},
        "subdistrict_code": {"type": ["string", "null"]},
        "postal_code": {"type": ["string", "null"]},
        "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
    },
}


_DATETIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_CALL = {
    "type": "object",
    "required": ["call_sid", "started_at", "ivr_path", "tickets", "caller_masked", "caller"],
    "properties": {
        "call_sid": {"type": "string"},
        "direction": {"type": "string"},
        "twilio_status": {"type": "string"},
        "outcome": {"type": ["string", "null"]},
        "caller_masked": {"type": ["string", "null"]},
        "caller": {
            "type": ["string", "null"],
            "description": "the whole number, for supervisors' and admins' tokens only",
        },
        "started_at": {"type": "string", "format": "date-time"},
        "answered_at": _DATETIME_OR_NULL,
        "ended_at": _DATETIME_OR_NULL,
        "duration_s": {"type": ["integer", "null"]},
        "queue_wait_s": {"type": ["integer", "null"]},
        "last_node": {"type": ["string", "null"]},
        "ivr_path": {"type": "array", "items": {"type": "string"}},
        "tickets": {"type": "array", "items": {"type": "string"}},
    },
}
_REFERRAL = {
    "type": "object",
    "required": ["id", "ticket", "agency", "status", "sent_at", "due_at", "overdue"],
    "properties": {
        "id": {"type": "integer"},
        "ticket": {"type": "string"},
        "ticket_status": {"type": "string"},
        "category": {"type": "string"},
        "agency": {"type": "string"},
        "agency_name_th": {"type": "string"},
        "status": {"type": "string", "enum": ["sent", "in_progress", "answered", "returned"]},
        "sent_at": {"type": "string", "format": "date-time"},
        "due_at": {"type": "string", "format": "date-time"},
        "answered_at": _DATETIME_OR_NULL,
        "response": {"type": "string"},
        "overdue": {"type": "boolean"},
    },
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    body = {"type": "object", "required": ["data", "next_cursor"],
            "properties": {"data": {"type": "array", "items": item},
                           "next_cursor": {"type": ["string", "null"]}}}  # fmt: skip
    return {"200": {"description": "a page", "content": {"application/json": {"schema": body}}}}


def _query(*names: str) -> list[dict[str, Any]]:
    params = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
              for n in names]  # fmt: skip
    limit = {"type": "integer", "minimum": 1, "maximum": 100}
    return [*params, {"name": "limit", "in": "query", "required": False, "schema": limit}]


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
        for code in codes
    }


def _ok(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    body = {"type": "object", "required": ["data"], "properties": {"data": schema}}
    return {status: {"description": "ok", "content": {"application/json": {"schema": body}}}}


_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}


def _ticket_action(
    summary: str, properties: dict[str, Any], *, required: list[str], answer: dict[str, Any]
) -> dict[str, Any]:
    """A POST on one ticket with a small JSON body: status changes, notes."""
    body = {"type": "object", "additionalProperties": False, "required": required,
            "properties": properties}  # fmt: skip
    return {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [_NUMBER],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**answer, **_errors(400, 401, 403, 404, 422)},
    }


_SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
_REFERRAL_ID = {"name": "referral_id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}  # fmt: skip


def _referral_action(summary: str, field: str) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": 5000}
    body = {"type": "object", "additionalProperties": False, "required": [field],
            "properties": {field: text}}  # fmt: skip
    return {
        "summary": summary,
        "security": _SECURED,
        "parameters": [_REFERRAL_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**_ok(_REFERRAL), **_errors(400, 401, 403, 404, 413, 422)},
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "1567 Hotline API",
        "version": "1.0.0",
        "description": "Complaints to the Damrongdhamma Centers from other channels.",
    },
    "servers": [{"url": "/"}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/v1/tickets": {
            "get": {
                "summary": "Tickets, newest first, cursor-paginated",
                "security": _SECURED,
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("status", "category", "province", "since", "until", "cursor")
                ]
                + [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "a page",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["data", "next_cursor"],
                                    "properties": {
                                        "data": {"type": "array", "items": _TICKET},
                                        "next_cursor": {"type": ["string", "null"]},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403),
                },
            },
            "post": {
                "summary": "File a complaint from another channel",
                "security": _SECURED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _NEW_TICKET}},
                },
                "responses": {**_ok(_TICKET, "201"), **_errors(400, 401, 403, 413, 422)},
            },
        },
        "/api/v1/tickets/{number}": {
            "get": {
                "summary": "One ticket",
                "security": _SECURED,
                "parameters": [_NUMBER],
                "responses": {**_ok(_TICKET), **_errors(401, 403, 404)},
            },
        },
        "/api/v1/tickets/{number}/status": {
            "post": _ticket_action(
                "Move a ticket along the workflow",
                {"status": {"type": "string"}, "reason": {"type": "string"}},
                required=["status"],
                answer=_ok(_TICKET),
            )
        },
        "/api/v1/tickets/{number}/notes": {
            "post": _ticket_action(
                "Add a note (public notes may be told to the citizen)",
                {"body": {"type": "string"}, "public": {"type": "boolean"}},
                required=["body"],
                answer=_ok({"type": "object"}, "201"),
            )
        },
        "/api/v1/calls": {
            "get": {
                "summary": "Calls, newest first: outcome, times, IVR path, tickets (staff tokens)",
                "security": _SECURED,
                "parameters": _query("outcome", "ticket", "since", "until", "cursor"),
                "responses": {**_page(_CALL), **_errors(400, 401, 403, 404)},
            },
        },
        "/api/v1/calls/{call_sid}": {
            "get": {
                "summary": "One call",
                "security": _SECURED,
                "parameters": [
                    {
                        "name": "call_sid",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {**_ok(_CALL), **_errors(401, 403, 404)},
            },
        },
        "/api/v1/referrals": {
            "get": {
                "summary": "Referrals, newest first (an agency's token sees only its own)",
                "security": _SECURED,
                "parameters": _query("status", "overdue", "cursor"),
                "responses": {**_page(_REFERRAL), **_errors(400, 401, 403)},
            },
        },
        "/api/v1/referrals/{referral_id}": {
            "get": {
                "summary": "One referral",
                "security": _SECURED,
                "parameters": [_REFERRAL_ID],
                "responses": {**_ok(_REFERRAL), **_errors(401, 403, 404)},
            },
        },
        "/api/v1/referrals/{referral_id}/progress": {
            "post": _referral_action("The agency reports progress", "text"),
        },
        "/api/v1/referrals/{referral_id}/answer": {
            "post": _referral_action("The agency answers", "text"),
        },
        "/api/v1/referrals/{referral_id}/send-back": {
            "post": _referral_action("The agency sends the referral back, with a reason", "reason"),
        },
        "/api/v1/categories": {
            "get": {
                "summary": "Complaint categories",
                "security": _SECURED,
                "responses": {**_ok({"type": "array"}), **_errors(401, 403)},
            },
        },
        "/api/v1/agencies": {
            "get": {
                "summary": "Agencies complaints are referred to",
                "security": _SECURED,
                "responses": {**_ok({"type": "array"}), **_errors(401, 403)},
            },
        },
    },
}
