"""The baseline for bench/ivr_webhooks.py: a bare Flask endpoint returning fixed TwiML."""

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
