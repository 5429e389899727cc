"""Drive the app like Twilio does: the simulator's transport over Flask's test client."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask.testing import FlaskClient


class FlaskTransport:
    """Posts to the app in-process; the URL's path and query string go to the test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(path, data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)
