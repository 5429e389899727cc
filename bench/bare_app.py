"""Baselines for the benchmarks: bare Flask endpoints returning fixed TwiML (ivr_webhooks.py)
and fixed JSON (api.py)."""

from __future__ import annotations

from flask import Flask, Response

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/twiml" numDigits="1">'
    '<Say language="th-TH" voice="Google.th-TH-Standard-A">สวัสดีค่ะ</Say></Gather></Response>'
)

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@app.post("/twiml")
def twiml() -> Response:
    return Response(TWIML, mimetype="text/xml")


@app.get("/json")
def json_document() -> Response:
    """The baseline for bench/api.py: a fixed JSON body about the size of a ticket."""
    return Response(JSON, mimetype="application/json")


JSON = (
    '{"data":{"number":"6900000012","channel":"web","category":"land","status":"received",'
    '"status_text_th":"ศูนย์ดำรงธรรมได้รับเรื่องของท่านแล้ว","priority":"normal",'
    '"description":"โรงงานปล่อยควันดำทุกคืน","caller_phone_masked":"08x xxx 5678",'
    '"province_code":"50","created_at":"2026-11-24T03:00:00Z"}}'
)
