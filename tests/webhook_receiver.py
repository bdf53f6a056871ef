"""A real HTTP receiver of webhooks for the tests, verifying every delivery's signature
with the Standard Webhooks reference package (``standardwebhooks``), not our code.

A werkzeug server on a free loopback port, in a thread. It can be told to answer 500 to
the first attempts, 410, to hang, or be stopped and started again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    #: Whether a signature verified, and with which of the secrets given.
    verified_with: list[str]
    status: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Receiver:
    """The receiver; :attr:`secrets` are the secrets it verifies with."""

    port: int = field(default_factory=free_port)
    secrets: list[str] = field(default_factory=list)
    #: Answer 500 to this many requests first.
    fail_first: int = 0
    #: The status to answer once the failures are spent.
    status: int = 200
    #: While set, requests block until :meth:`release` (or 30 s).
    hang: bool = False
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.hung = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        self._released.set()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        headers = {key.lower(): value for key, value in request.headers.items()}
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except Exception:
                continue
            verified.append(secret)
        if self.hang:
            self.hung.set()
            self._released.wait(30)
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                status = 500
            else:
                status = self.status if verified else 401
            self.received.append(Received(headers, body, verified, status))
        return Response("answer " * 400, status=status)(environ, start_response)

    def accepted(self) -> list[Received]:
        """Requests answered 2xx."""
        with self._lock:
            return [item for item in self.received if 200 <= item.status < 300]
