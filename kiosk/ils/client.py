"""A SIP2 client over TCP, optionally TLS: one connection, one request at a time.

Every exchange has one deadline of `timeout_s` (kiosk.ils.deadline): the wait for the
connection's lock, the connect, the TLS handshake, the login and every read share it, so an
ILS that trickles its answer a byte at a time is given up on when it passes.

TLS, when configured, is required: a failed handshake or certificate check is an
error, never a reason to talk plain text. Frames end in CR; every request carries
a sequence number and checksum. A response with a bad checksum is asked for again
once (97); a 96 from the ILS (it got our frame garbled) makes us send ours again once.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kiosk.ils import sip2
from kiosk.ils.deadline import Clock, Deadline, DeadlinePassed
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
                 wrap_frame: Callable[[bytes], bytes] | None = None,
                 clock: Clock = time.monotonic):
        self.endpoint = endpoint
        self._clock = clock
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

    def deadline(self) -> Deadline:
        """Return a fresh deadline of the endpoint's `timeout_s` for one exchange."""
        return Deadline(self.endpoint.timeout_s, self._clock)

    def connect(self, deadline: Deadline | None = None) -> None:
        """Open the connection (TLS if configured) and log in, all within one deadline."""
        ep = self.endpoint
        d = deadline or self.deadline()
        with self._turn(d):
            self.close()
            raw = self._open(d)
            if ep.tls:
                context = ssl.create_default_context(cafile=ep.tls_ca_file or None)
                try:
                    # The handshake as a whole gets what is left (CPython bounds it
                    # by one deadline, not per read).
                    raw.settimeout(d.left())
                    raw = context.wrap_socket(raw, server_hostname=ep.host)
                except DeadlinePassed:
                    raw.close()
                    raise LinkDown(f"no answer within {d.seconds:g} s") from None
                except (ssl.SSLError, OSError) as exc:
                    raw.close()
                    raise LinkDown(f"TLS with {ep.host}:{ep.port} failed: {exc}") from None
            self._sock, self._buffer = raw, b""
            if ep.user:
                reply = self.request(*sip2.login(ep.user, ep.password, ep.location),
                                     expect="94", deadline=d)
                if not reply.flag("ok"):
                    self.close()
                    raise LoginRefused(f"the ILS refused the login of {ep.user!r}")

    def _open(self, d: Deadline) -> socket.socket:
        """Resolve and connect within the deadline (a slow DNS answer counts too)."""
        ep = self.endpoint
        try:
            addresses = _resolve(ep.host, ep.port, d)
            error: OSError | None = None
            for family, kind, proto, _name, address in addresses:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.settimeout(d.left())
                    sock.connect(address)
                    return sock
                except OSError as exc:  # DeadlinePassed too: it is a TimeoutError
                    sock.close()
                    error = exc
            raise error or OSError("no address")
        except OSError as exc:
            raise LinkDown(f"cannot reach {ep.host}:{ep.port}: {exc}") from None

    @contextmanager
    def _turn(self, d: Deadline) -> Iterator[None]:
        """Hold this client's lock, waiting for it no longer than the deadline allows."""
        if not self._lock.acquire(timeout=d.remaining()):
            raise LinkDown(f"the ILS connection stayed busy for {d.seconds:g} s")
        try:
            yield
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close the connection, if open."""
        with self._lock:
            if self._sock is not None:
                try:
                    self._sock.close()
                except OSError:
                    pass
            self._sock, self._buffer = None, b""

    def request(self, command: str, fixed: list, fields: list, *, expect: str,
                deadline: Deadline | None = None) -> Message:
        """Send one request and return its response; LinkDown when the link fails or the
        deadline (default: `timeout_s` from now) passes first."""
        d = deadline or self.deadline()
        with self._turn(d):
            if self._sock is None:
                raise LinkDown("not connected")
            self._sequence = (self._sequence + 1) % 10
            frame = sip2.encode(command, fixed, fields, sequence=self._sequence,
                                encoding=self.endpoint.encoding)
            try:
                return self._exchange(frame, expect, d)
            except LinkDown:
                self.close()
                raise

    def _exchange(self, frame: bytes, expect: str, d: Deadline) -> Message:
        self._send(frame, d)
        resent = asked_again = False
        while True:
            try:
                reply = sip2.decode(self._read_frame(d), encoding=self.endpoint.encoding)
            except ChecksumError:
                if asked_again:
                    raise LinkDown("the ILS keeps sending frames with bad checksums") from None
                asked_again = True
                log.warning("SIP2: bad checksum from the ILS; asking it to resend")
                self._send(sip2.encode(*sip2.request_resend(), sequence=None,
                                       encoding=self.endpoint.encoding), d)
                continue
            except FrameError as exc:
                raise LinkDown(f"unreadable answer from the ILS: {exc}") from None
            if reply.command == "96":
                if resent:
                    raise LinkDown("the ILS asked twice for a resend")
                resent = True
                log.warning("SIP2: the ILS asked for a resend")
                self._send(frame, d, garble=False)
                continue
            if reply.command != expect:
                raise LinkDown(f"expected {expect} from the ILS, got {reply.command}")
            if reply.sequence is not None and reply.sequence != self._sequence:
                raise LinkDown(f"answer carries sequence {reply.sequence}, "
                               f"sent {self._sequence}")
            return reply

    def _send(self, frame: bytes, d: Deadline, garble: bool = True) -> None:
        assert self._sock is not None
        if garble and self._wrap_frame:
            frame = self._wrap_frame(frame)
        try:
            self._sock.settimeout(d.left())
            self._sock.sendall(frame)  # since Python 3.5 the timeout bounds the whole send
        except TimeoutError:
            raise LinkDown(f"the ILS took no request within {d.seconds:g} s") from None
        except OSError as exc:
            raise LinkDown(f"sending to the ILS failed: {exc}") from None

    def _read_frame(self, d: Deadline) -> bytes:
        assert self._sock is not None
        while b"\r" not in self._buffer:
            if len(self._buffer) > MAX_FRAME:
                raise LinkDown("answer longer than 64 KiB without a CR")
            try:
                # What is left of the deadline, not a fresh timeout: a byte every
                # second must not keep the caller waiting past it.
                self._sock.settimeout(d.left())
                chunk = self._sock.recv(4096)
            except TimeoutError:  # DeadlinePassed included
                raise LinkDown(f"no answer within {d.seconds:g} s") from None
            except OSError as exc:
                raise LinkDown(f"reading from the ILS failed: {exc}") from None
            if not chunk:
                raise LinkDown("the ILS closed the connection")
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\r")
        self._buffer = self._buffer.lstrip(b"\n")  # some systems end frames with CR LF
        return frame + b"\r"


def _resolve(host: str, port: int, d: Deadline) -> list:
    """Return getaddrinfo's answer, given up on (OSError) when the deadline passes first.

    getaddrinfo has no timeout of its own; it runs in a short-lived thread so the caller
    can stop waiting. An address literal needs no lookup and no thread.
    """
    try:
        ipaddress.ip_address(host)
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except ValueError:
        pass
    answer: queue.Queue = queue.Queue(maxsize=1)

    def look_up() -> None:
        try:
            answer.put(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.put(exc)

    threading.Thread(target=look_up, name="ils-resolve", daemon=True).start()
    try:
        result = answer.get(timeout=d.left())
    except queue.Empty:
        raise DeadlinePassed(f"no address for {host} within {d.seconds:g} s") from None
    if isinstance(result, OSError):
        raise result
    return result
