"""HTTP for the conformance suite: every request and its response is kept, so that a failed check can show
exactly what was sent and what came back, and so that every answer can be judged against the document."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

MAX_SHOWN = 2000  # characters of a body shown in a report
_DEFAULT = object()  # "the client's own credential"


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: object = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_text: str = ""
    error: str | None = None  # the transport failed: no answer at all

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def json(self):
        """The response body as JSON; `ValueError` when it is not JSON."""
        return jsonlib.loads(self.response_text)

    def json_or_none(self):
        try:
            return self.json
        except ValueError:
            return None

    def describe(self) -> str:
        lines = [f"request:  {self.method} {self.url}"]
        lines += [f"          {name}: {value}" for name, value in self.request_headers.items()]
        if self.request_body is not None:
            lines.append("          " + _shorten(jsonlib.dumps(self.request_body, ensure_ascii=False)))
        if self.error:
            lines.append(f"response: none ({self.error})")
            return "\n".join(lines)
        lines.append(f"response: {self.status}  Content-Type: {self.response_headers.get('Content-Type', '-')}")
        if self.response_text:
            lines.append("          " + _shorten(self.response_text.strip()))
        return "\n".join(lines)


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"... ({len(text)} characters)"


class Client:
    """One credential against the service under test; every exchange is appended to `log`."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None, log: list[Exchange], timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.log = log
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, path: str, *, json=None, params=None, headers=None, auth=_DEFAULT,
                data: bytes | None = None) -> Exchange:
        """`auth=None` sends no credentials; `auth=(user, password)` sends others than the client's."""
        auth = self.auth if auth is _DEFAULT else auth
        prepared = self.session.prepare_request(requests.Request(
            method, self.base_url + path, params=params, headers=headers or {}, auth=auth, json=json, data=data))
        shown = {name: ("Basic ***" if name.lower() == "authorization" else value)
                 for name, value in prepared.headers.items()
                 if name.lower() not in ("user-agent", "accept-encoding", "accept", "connection", "content-length")}
        exchange = Exchange(method, prepared.url, shown, json)
        if data is not None:
            exchange.request_body = data.decode("utf-8", "replace")
        try:
            response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            exchange.error = f"{type(error).__name__}: {error}"
        else:
            exchange.status = response.status_code
            exchange.response_headers = dict(response.headers)
            exchange.response_text = response.text
        self.log.append(exchange)
        return exchange

    def get(self, path, **kwargs) -> Exchange:
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs) -> Exchange:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs) -> Exchange:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path, **kwargs) -> Exchange:
        return self.request("DELETE", path, **kwargs)
