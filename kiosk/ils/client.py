"""A SIP2 client over TCP, optionally TLS: one connection, one request at a time.

TLS, when configured, is required: a failed handshake or certificate check is an
error, never a reason to talk plain text. Frames end in CR; every request carries
a sequence number and checksum. A response with a bad checksum is asked for again
once (97); a 96 from the ILS (it got our frame garbled) makes us send ours again once.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.ils import sip2
from kiosk.ils.sip2 import ChecksumError, FrameError, Message, SIP2Error

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024


class LinkDown(SIP2Error):
    """The ILS cannot be reached, or the connection broke or timed out."""


class LoginRefused(SIP2Error):
    """The ILS answered the 93 Login with ok=0."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach the ILS, and who the station is there."""

    host: str
    port: int
    user: str = ""
    password: str = ""
    location: str = ""
    tls: bool = False
    tls_ca_file: str = ""
    encoding: str = "utf-8"
    timeout_s: float = 5.0

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"Endpoint({self.host}:{self.port}, user={self.user!r}, tls={self.tls})"


class SIP2Client:
    """Speak SIP2 to one ILS; every public method is safe to call from several threads."""

    def __init__(self, endpoint: Endpoint,
                 wrap_frame: Callable[[bytes], bytes] | None = None):
        self.endpoint = endpoint
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._sequence = 0
        self._lock = threading.RLock()
        # Tests use wrap_frame to garble outgoing frames; it sees every frame sent.
        self._wrap_frame = wrap_frame

    @property
    def connected(self) -> bool:
        """Return True while a connection is open."""
        return self._sock is not None

    def connect(self) -> None:
        """Open the connection (TLS if configured) and log in when a user is configured."""
        ep = self.endpoint
        with self._lock:
            self.close()
            try:
                raw = socket.create_connection((ep.host, ep.port), timeout=ep.timeout_s)
            except OSError as exc:
                raise LinkDown(f"cannot reach {ep.host}:{ep.port}: {exc}") from None
            raw.settimeout(ep.timeout_s)
            if ep.tls:
                context = ssl.create_default_context(cafile=ep.tls_ca_file or None)
                try:
                    raw = context.wrap_socket(raw, server_hostname=ep.host)
                except (ssl.SSLError, OSError) as exc:
                    raw.close()
                    raise LinkDown(f"TLS with {ep.host}:{ep.port} failed: {exc}") from None
            self._sock, self._buffer = raw, b""
            if ep.user:
                reply = self.request(*sip2.login(ep.user, ep.password, ep.location),
                                     expect="94")
                if not reply.flag("ok"):
                    self.close()
                    raise LoginRefused(f"the ILS refused the login of {ep.user!r}")

    def close(self) -> None:
        """Close the connection, if open."""
        with self._lock:
            if self._sock is not None:
                try:
                    self._sock.close()
                except OSError:
                    pass
            self._sock, self._buffer = None, b""

    def request(self, command: str, fixed: list, fields: list, *, expect: str) -> Message:
        """Send one request and return its response; LinkDown when the link fails."""
        with self._lock:
            if self._sock is None:
                raise LinkDown("not connected")
            self._sequence = (self._sequence + 1) % 10
            frame = sip2.encode(command, fixed, fields, sequence=self._sequence,
                                encoding=self.endpoint.encoding)
            try:
                return self._exchange(frame, expect)
            except LinkDown:
                self.close()
                raise

    def _exchange(self, frame: bytes, expect: str) -> Message:
        self._send(frame)
        resent = asked_again = False
        while True:
            try:
                reply = sip2.decode(self._read_frame(), encoding=self.endpoint.encoding)
            except ChecksumError:
                if asked_again:
                    raise LinkDown("the ILS keeps sending frames with bad checksums") from None
                asked_again = True
                log.warning("SIP2: bad checksum from the ILS; asking it to resend")
                self._send(sip2.encode(*sip2.request_resend(), sequence=None,
                                       encoding=self.endpoint.encoding))
                continue
            except FrameError as exc:
                raise LinkDown(f"unreadable answer from the ILS: {exc}") from None
            if reply.command == "96":
                if resent:
                    raise LinkDown("the ILS asked twice for a resend")
                resent = True
                log.warning("SIP2: the ILS asked for a resend")
                self._send(frame, garble=False)
                continue
            if reply.command != expect:
                raise LinkDown(f"expected {expect} from the ILS, got {reply.command}")
            if reply.sequence is not None and reply.sequence != self._sequence:
                raise LinkDown(f"answer carries sequence {reply.sequence}, "
                               f"sent {self._sequence}")
            return reply

    def _send(self, frame: bytes, garble: bool = True) -> None:
        assert self._sock is not None
        if garble and self._wrap_frame:
            frame = self._wrap_frame(frame)
        try:
            self._sock.sendall(frame)
        except OSError as exc:
            raise LinkDown(f"sending to the ILS failed: {exc}") from None

    def _read_frame(self) -> bytes:
        assert self._sock is not None
        while b"\r" not in self._buffer:
            if len(self._buffer) > MAX_FRAME:
                raise LinkDown("answer longer than 64 KiB without a CR")
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                raise LinkDown(
                    f"no answer within {self.endpoint.timeout_s:g} s") from None
            except OSError as exc:
                raise LinkDown(f"reading from the ILS failed: {exc}") from None
            if not chunk:
                raise LinkDown("the ILS closed the connection")
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\r")
        self._buffer = self._buffer.lstrip(b"\n")  # some systems end frames with CR LF
        return frame + b"\r"
