"""A real HTTP receiver on loopback for webhook tests: logs every POST, answers as told."""

from __future__ import annotations

import base64
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# A Standard Webhooks secret the test stations sign with and the tests verify with.
SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()


def secret_file(folder: Path) -> str:
    """Write SECRET where a station's `[[webhooks]] secret_file` reads it; return the path."""
    path = folder / "webhook-secret"
    path.write_text(SECRET + "\n")
    return str(path)


class Receiver:
    """Serve on 127.0.0.1:<ephemeral>; `status` is the answer, `gate` holds requests."""

    def __init__(self, status: int = 200, port: int = 0):
        self.status = status
        self.reason: str | None = None  # the status line's reason phrase, if not the usual
        self.log: list[dict] = []  # every request that arrived, answered or not
        self.entered = threading.Event()  # set when a request arrives
        self.gate: threading.Event | None = None  # when set: requests wait for it
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                entry = {"id": self.headers.get("webhook-id"), "body": body,
                         "headers": {k.lower(): v for k, v in self.headers.items()},
                         "json": json.loads(body)}
                with receiver._lock:
                    receiver.log.append(entry)
                    gate, status, reason = receiver.gate, receiver.status, receiver.reason
                    receiver._arrived.notify_all()
                receiver.entered.set()
                if gate is not None:
                    gate.wait(60)
                try:
                    self.send_response(status, reason)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the station was killed while we held its request
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, bound_s: float = 30) -> bool:
        """Wait until count requests have arrived (bound_s is a liveness bound only)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.log) >= count, bound_s)

    def ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.log]

    def events(self) -> list[dict]:
        with self._lock:
            return [e["json"] for e in self.log]


class Trickler:
    """A receiver that reads the request, then sends its answer's header a byte at a time.

    Each byte comes `pace_s` after the last, for as long as the sender listens: a sender
    whose timeout restarts with each byte is held for ever; one with a deadline is not.
    """

    def __init__(self, pace_s: float = 0.05):
        self.requests = 0  # requests read whole
        self.cut = 0  # answers the sender stopped listening to
        self.stop = threading.Event()
        self._lock = threading.Lock()
        trickler = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    body += chunk
                with trickler._lock:
                    trickler.requests += 1
                try:
                    self.request.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not trickler.stop.wait(pace_s):
                        self.request.sendall(b"a")
                except OSError:
                    with trickler._lock:
                        trickler.cut += 1

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Trickler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
