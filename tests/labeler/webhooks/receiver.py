"""A real HTTP receiver on 127.0.0.1 for the webhooks' tests: it answers from a script
and keeps every request it got, with whether its signature held under the secret."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from labeler.webhooks.signing import HEADER, signature_verify


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before answering
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool  # the signature checked with the receiver's secret


class Receiver:
    """Answers each POST with the next scripted reply (the last one again once used up)."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.replies: list[Reply] = [Reply()]
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/in?team=7"

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                signed = signature_verify(receiver.secret, headers.get(HEADER.lower(), ""), body)
                reply = receiver._next(Received(self.path, headers, body, signed))
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def loopback_allow(settings: object) -> None:
    """Let deliveries reach 127.0.0.1 (every other private address stays refused), with
    short timeouts and no wait between attempts."""
    settings.LABELER_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # type: ignore[attr-defined]
    settings.LABELER_WEBHOOK_TIMEOUT_SECONDS = 1  # type: ignore[attr-defined]
    settings.LABELER_WEBHOOK_MAX_ATTEMPTS = 4  # type: ignore[attr-defined]
    settings.LABELER_WEBHOOK_RETRY_BASE_SECONDS = 0  # type: ignore[attr-defined]
    settings.LABELER_WEBHOOK_RETRY_MAX_SECONDS = 0  # type: ignore[attr-defined]
