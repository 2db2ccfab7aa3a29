"""A library system for tests: pysip2's SIP2Server in a thread, and a proxy that misbehaves.

`FakeLibrary` holds patrons, loans and holds and registers pysip2 handlers for login,
patron information, checkout and checkin. pysip2's typed checkin answer (10) has no
hold fields, so `KohaSIP2Server` writes 10 answers itself the way Koha's SIP server
does (see `koha_checkin_frame`). `SipServer` runs a pysip2 server on a loopback
port in its own thread. `FaultProxy` sits between the station and the server and
can garble the checksum of an answer, swallow an answer and close (as if the link
broke after the ILS acted), drop every connection, or speak TLS to the station.
"""

from __future__ import annotations

import queue
import socket
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio.abc import SocketAttribute
from pysip2 import (
    CHECKIN,
    CHECKOUT,
    LOGIN,
    PATRON_INFORMATION,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    RequestContext,
    SIP2Server,
    calculate_checksum,
)

INSTITUTION = "testlib"
HOME_BRANCH = "main"  # the items' permanent location (AQ)
PATRON_CARD = "N000000001"  # the one patron of the default `library` fixture (conftest)


class KohaCheckinResponse(CheckinResponse, frozen=True, kw_only=True):
    """pysip2's 10 answer plus the fields Koha adds to it (3M extensions)."""

    call_number: str | None = None  # CS
    hold_patron_id: str | None = None  # CY
    destination_location: str | None = None  # CT
    hold_patron_name: str | None = None  # DA
    collection_code: str | None = None  # CR
    alert_type: str | None = None  # CV


def koha_checkin_frame(r: KohaCheckinResponse, sequence: int | None, encoding: str,
                       terminator: bytes = b"\r\n") -> bytes:
    """Write a 10 answer field by field in the order of Koha's handle_checkin.

    Koha (C4/SIP/Sip/MsgType.pm, handle_checkin) writes: "10", ok, resensitize, magnetic
    media, alert, the 18-character time; AO, AB; with an item AQ and AJ; then (protocol 2)
    CL, AA (the patron who had it), CK, CH, CS, CY, CT (only with a destination), DA, CR;
    CV only with an alert; AF, AG. Fields without a value are left out (maybe_add), AO, AB,
    AQ and AA are always written. write_msg encodes the text in the account's encoding,
    appends AY<sequence of the request>AZ and the checksum of those bytes, and ends the
    frame with the account's terminator (CR LF unless the account says CR).
    """
    fields = [("AO", r.institution_id), ("AB", r.item_identifier),
              ("AQ", r.permanent_location), ("AJ", r.title_identifier), ("CL", r.sort_bin),
              ("AA", r.patron_identifier), ("CK", r.media_type), ("CH", r.item_properties),
              ("CS", r.call_number), ("CY", r.hold_patron_id),
              ("CT", r.destination_location), ("DA", r.hold_patron_name),
              ("CR", r.collection_code),
              ("CV", r.alert_type if r.alert == "Y" else None)]
    fields += [("AF", m) for m in r.screen_message] + [("AG", m) for m in r.print_line]
    text = "10" + r.ok + r.resensitize + r.magnetic_media + r.alert + r.transaction_date
    text += "".join(f"{code}{value}|" for code, value in fields if value)
    body = text.encode(encoding)
    if sequence is None:
        return body + terminator
    body += b"AY" + str(sequence).encode("ascii") + b"AZ"
    return body + calculate_checksum(body).encode("ascii") + terminator


class KohaSIP2Server(SIP2Server):
    """pysip2's server, writing check-in answers as Koha does."""

    async def _write_response(self, stream, state, decoded, response) -> None:
        if not isinstance(response, KohaCheckinResponse):
            return await super()._write_response(stream, state, decoded, response)
        sequence = decoded.sequence_number if decoded.checksum is not None else None
        await self._send(stream, state, koha_checkin_frame(response, sequence, self.encoding))


@dataclass
class Hold:
    """A hold on an item: whose (card, name) and where it is to be picked up."""

    card: str
    name: str = "Åse Ødegård"
    pickup: str = "hall"


@dataclass
class Patron:
    pin: str = "1234"
    valid: bool = True
    blocked: bool = False
    name: str = "Åse Ødegård"
    holds: list[str] = field(default_factory=list)


class FakeLibrary:
    """Patrons, loans and what the station asked; pysip2 handlers over them."""

    def __init__(self, user: str = "kiosk", password: str = "s3cret",
                 encoding: str = "utf-8", renew_repeats: bool = True):
        self.user, self.password = user, password
        self.patrons: dict[str, Patron] = {}
        self.loans: dict[str, str] = {}  # item -> patron
        self.refuse: dict[str, str | tuple[str, ...]] = {}  # item -> screen message(s) (AF)
        self.checkouts: Counter[str] = Counter()  # item -> 11 requests seen
        self.holds: dict[str, Hold] = {}  # item -> the hold a checkin traps
        self.checkins: list[CheckinRequest] = []  # every 09 seen
        self.refuse_checkin: dict[str, str] = {}  # item -> screen message (ok=0)
        self.checked_in_ok = False  # Koha's account flag: ok=1 for items not on loan
        # The hold of any item not in `holds` (None: such items are on no hold).
        self.default_hold: Hold | None = None
        self.logins: list[str] = []
        self.patron_requests: list[PatronInformationRequest] = []
        self.renew_repeats = renew_repeats
        self.server = KohaSIP2Server(encoding=encoding, institution_id=INSTITUTION,
                                     login_required=True)
        self.server.route(LOGIN)(self._login)
        self.server.route(PATRON_INFORMATION)(self._patron_information)
        self.server.route(CHECKOUT)(self._checkout)
        self.server.route(CHECKIN)(self._checkin)

    def _checkin(self, req: CheckinRequest, ctx: RequestContext) -> KohaCheckinResponse:
        """Check an item in as Koha does: trap its hold (01 here, 02 elsewhere)."""
        self.checkins.append(req)
        item = req.item_identifier
        on_loan = self.loans.pop(item, None)
        ok = on_loan is not None or self.checked_in_ok
        messages = () if ok else ("Item not checked out",)
        if item in self.refuse_checkin:
            ok, messages = False, (self.refuse_checkin[item],)
        hold = None if item in self.refuse_checkin else self.holds.get(item, self.default_hold)
        alert_type = None
        if hold is not None:
            alert_type = "01" if hold.pickup == req.current_location else "02"
        return KohaCheckinResponse(
            ok="1" if ok else "0", resensitize="Y" if ok else "N", magnetic_media="N",
            alert="Y" if (alert_type or not ok) else "N", transaction_date=ctx.now_18(),
            institution_id=req.institution_id, item_identifier=item,
            permanent_location=HOME_BRANCH, title_identifier="Sult",
            patron_identifier=on_loan, call_number="839.8 Ham",
            hold_patron_id=(hold.card or None) if hold else None,
            destination_location=hold.pickup if hold else None,
            hold_patron_name=(hold.name or None) if hold else None, alert_type=alert_type,
            screen_message=messages)

    def _login(self, req: LoginRequest, ctx: RequestContext) -> LoginResponse:
        self.logins.append(req.login_user_id)
        ok = req.login_user_id == self.user and req.login_password == self.password
        return LoginResponse(ok="1" if ok else "0")

    def _patron_information(self, req: PatronInformationRequest,
                            ctx: RequestContext) -> PatronInformationResponse:
        self.patron_requests.append(req)
        patron = self.patrons.get(req.patron_identifier)
        wants = req.summary
        holds = tuple(patron.holds) if patron and wants[0] == "Y" else ()
        charged = tuple(i for i, p in self.loans.items()
                        if p == req.patron_identifier) if wants[2] == "Y" else ()
        pin_ok = None
        if req.patron_password is not None:
            pin_ok = "Y" if patron and req.patron_password == patron.pin else "N"
        status = ("Y" if patron and patron.blocked else " ") + " " * 13
        return PatronInformationResponse(
            patron_status=status, language="000", transaction_date=ctx.now_18(),
            hold_items_count=f"{len(holds):04d}", overdue_items_count="0000",
            charged_items_count=f"{len(charged):04d}", fine_items_count="0000",
            recall_items_count="0000", unavailable_holds_count="0000",
            institution_id=INSTITUTION, patron_identifier=req.patron_identifier,
            personal_name=patron.name if patron else "",
            valid_patron="Y" if patron and patron.valid else "N",
            valid_patron_password=pin_ok, hold_items=holds, charged_items=charged,
            screen_message=("Blocked: see staff",) if patron and patron.blocked else ())

    def _checkout(self, req: CheckoutRequest, ctx: RequestContext) -> CheckoutResponse:
        item, patron = req.item_identifier, req.patron_identifier
        self.checkouts[item] += 1

        def answer(ok: bool, renewal: bool = False,
                   message: str | tuple[str, ...] = "") -> CheckoutResponse:
            return CheckoutResponse(
                ok="1" if ok else "0", renewal_ok="Y" if renewal else "N",
                magnetic_media="N", desensitize="Y" if ok else "N",
                transaction_date=ctx.now_18(), institution_id=INSTITUTION,
                patron_identifier=patron, item_identifier=item, title_identifier="Bok",
                due_date="2031-01-15" if ok else "",
                screen_message=message if isinstance(message, tuple)
                else (message,) if message else ())

        if item in self.refuse:
            return answer(False, message=self.refuse[item])
        if self.loans.get(item) == patron:
            if self.renew_repeats and req.sc_renewal_policy == "Y":
                return answer(True, renewal=True, message="Renewed")
            return answer(False, message="Item already checked out to you")
        if item in self.loans:
            return answer(False, message="Item checked out to another patron")
        self.loans[item] = patron
        return answer(True)


class SipServer:
    """Run a pysip2 server on a loopback port in a thread until stopped."""

    def __init__(self, library: FakeLibrary):
        self.library = library
        self.port = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> SipServer:
        ready: queue.Queue = queue.Queue()
        self._stop.clear()

        async def main() -> None:
            try:
                # server.start() leaves its listener open when cancelled; close ours.
                server = self.library.server
                listener = await server.listen("127.0.0.1", 0)
                async with listener, anyio.create_task_group() as tg:
                    tg.start_soon(listener.serve, server._handle_connection)
                    ready.put(listener.extra(SocketAttribute.local_port))
                    while not self._stop.is_set():
                        await anyio.sleep(0.01)
                    tg.cancel_scope.cancel()
            except BaseException as exc:  # tell the starting test instead of hanging
                ready.put(exc)
                raise

        self._thread = threading.Thread(target=anyio.run, args=(main,), daemon=True)
        self._thread.start()
        result = ready.get(timeout=10)
        if isinstance(result, BaseException):
            raise result
        self.port = result
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class FaultProxy:
    """Forward SIP2 frames between station and server; break them on request."""

    def __init__(self, upstream_port: int, tls: ssl.SSLContext | None = None):
        self.upstream_port = upstream_port
        self.tls = tls
        self.garble_answers = 0  # how many of the next answers get a wrong checksum
        self.swallow_answer_to: str | None = None  # e.g. "11": ILS acts, station hears nothing
        # hold_answer: an answer code (e.g. "12", a checkout's): the next such answer waits
        # for `release` (set `held` when it arrives), so a test acts while the ILS "thinks".
        self.hold_answer: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.requests: list[bytes] = []
        self.answers: list[bytes] = []  # as they reached the station
        self.connections = 0  # how many times the station connected (the ILS up or not)
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._running = True
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()

    def _accept_loop(self) -> None:
        while self._running:
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(None)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return
        self._track(conn)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
        except OSError:
            _close(conn)  # the library system is down
            return
        upstream.settimeout(None)
        self._track(upstream)
        swallow = threading.Event()
        t = threading.Thread(target=self._pump_requests, args=(conn, upstream, swallow),
                             daemon=True)
        t.start()
        self._pump_answers(upstream, conn, swallow)
        t.join(timeout=5)

    def _pump_requests(self, src: socket.socket, dst: socket.socket,
                       swallow: threading.Event) -> None:
        for frame in _frames(src):
            self.requests.append(frame)
            if self.swallow_answer_to and frame[:2] == self.swallow_answer_to.encode():
                self.swallow_answer_to = None
                swallow.set()
            try:
                dst.sendall(frame)
            except OSError:
                break
        _close(dst)

    def _pump_answers(self, src: socket.socket, dst: socket.socket,
                      swallow: threading.Event) -> None:
        for frame in _frames(src):
            if swallow.is_set():
                break  # the ILS did it; the station never hears
            if self.hold_answer and frame[:2] == self.hold_answer.encode():
                self.hold_answer = None
                self.held.set()
                self.release.wait(30)
            if self.garble_answers > 0 and b"AZ" in frame:
                self.garble_answers -= 1
                frame = _garble(frame)
            self.answers.append(frame)
            try:
                dst.sendall(frame)
            except OSError:
                break
        _close(dst)
        _close(src)

    def drop_all(self) -> None:
        """Cut every open connection, as a network outage or an ILS restart would."""
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            _close(s)

    def close(self) -> None:
        self._running = False
        self.drop_all()
        self._threads[0].join(timeout=5)
        self._listener.close()
        for t in self._threads[1:]:
            t.join(timeout=5)


def _frames(sock: socket.socket):
    buffer = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk
        while b"\r" in buffer:
            frame, _, buffer = buffer.partition(b"\r")
            yield frame + b"\r"


def _garble(frame: bytes) -> bytes:
    last = frame[-2:-1]
    return frame[:-2] + (b"0" if last != b"0" else b"1") + b"\r"


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Make a self-signed certificate for 127.0.0.1 with openssl; return (cert, key)."""
    cert, key = folder / "ils.pem", folder / "ils.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def ils_config(port: int, folder: Path, **extra) -> dict:
    """Return an `[ils]` section for the station, password files written into folder."""
    (folder / "ils-password").write_text("s3cret\n")
    (folder / "ils-terminal").write_text("term\n")
    return {"kind": "sip2", "host": "127.0.0.1", "port": port, "user": "kiosk",
            "password_file": str(folder / "ils-password"), "institution": INSTITUTION,
            "location": "hall", "terminal_password_file": str(folder / "ils-terminal"),
            "timeout_s": 2, **extra}


# --- library systems that misbehave on purpose (issue 26) --------------------------------

def sip_frame(text: str, sequence: bytes | None) -> bytes:
    """Return an answer frame: text, AY with the request's sequence, AZ checksum, CR."""
    body = text.encode("utf-8")
    if sequence is not None:
        body += b"AY" + sequence + b"AZ"
        body += calculate_checksum(body).encode("ascii")
    return body + b"\r"


def hostile_answer(request: bytes, blocked: bool = False) -> bytes | None:
    """Return a valid answer to a login (93), status (99) or patron information (63)."""
    seq = request[request.rfind(b"AY") + 2:][:1] if b"AY" in request else None
    now = "20261207    120000"
    if request.startswith(b"93"):
        return sip_frame("941AFLogget inn som kiosk.|", seq)  # long enough to trickle
    if request.startswith(b"99"):
        return sip_frame("98YYYYNN010003" + now + "2.00AOtestlib|", seq)
    if request.startswith(b"63"):
        card = request.split(b"AA", 1)[1].split(b"|", 1)[0].decode()
        return sip_frame("64" + ("Y" if blocked else " ") + " " * 13 + "000" + now + "0000" * 6
                         + f"AO{INSTITUTION}|AA{card}|AEÅse Ødegård|BLY|"
                         + "AF" + "Velkommen til biblioteket. " * 3 + "|", seq)
    return None


class HostileIls:
    """A SIP2 server on a loopback port that misbehaves in one way (its `mode`).

    trickle: answers correctly, one byte every `interval` s; slow: answers the login at
    once and every other request whole after `interval` s; silent: answers the login, then
    nothing; hang: accepts and never reads; close: accepts and closes at once. With
    blocked, the patron information says the card may not borrow; with tls (a server
    context), it speaks TLS.
    It counts connections, requests and answers sent in full, so tests can say what the
    station tried and that it gave up before a trickled answer was complete.
    """

    def __init__(self, mode: str, interval: float = 0.05, trickle_login: bool = True,
                 blocked: bool = False, tls: ssl.SSLContext | None = None):
        self.mode, self.interval, self.trickle_login = mode, interval, trickle_login
        self.blocked, self.tls = blocked, tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.answers_finished = 0  # answers whose last byte went out
        self.bytes_sent = 0
        self.asked = threading.Event()  # set at the first request: an exchange is under way
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
                self._socks.append(conn)
            if self.mode == "close":
                _close(conn)
            elif self.mode != "hang":
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:  # a quick handshake; what follows misbehaves over TLS
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
            with self._lock:
                self._socks.append(conn)  # the TLS socket now owns the descriptor
        try:
            self._answer(conn)
        finally:
            _close(conn)

    def _answer(self, conn: socket.socket) -> None:
        for frame in _frames(conn):
            self.requests.append(frame)
            self.asked.set()
            answer = hostile_answer(frame, self.blocked)
            if answer is None or self._stop.is_set():
                continue
            if self.mode == "slow" and not frame.startswith(b"93") and \
                    self._stop.wait(self.interval):
                return
            if self.mode == "silent" and not frame.startswith(b"93"):
                continue  # the ILS hangs after the login
            if self.mode == "trickle" and (self.trickle_login or not frame.startswith(b"93")):
                if not self._trickle(conn, answer):
                    return
            else:
                conn.sendall(answer)
                self.answers_finished += 1

    def _trickle(self, conn: socket.socket, answer: bytes) -> bool:
        for i in range(len(answer)):
            if self._stop.wait(self.interval):
                return False
            try:
                conn.sendall(answer[i:i + 1])
            except OSError:
                return False  # the station gave up and closed
            self.bytes_sent += 1
        self.answers_finished += 1
        return True

    def close(self) -> None:
        """Stop serving and close every connection."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for sock in self._socks:
                _close(sock)
