"""Debian's nginx in front of a station, as deploy/nginx-kiosk.conf sets it up, without root.

A throw-away CA (openssl) signs a server certificate for 127.0.0.1 and localhost; nginx runs
from a temporary folder (pid, logs and temp files there) on free loopback ports, with the
shipped site file itself: only its ports, upstream and certificate paths are changed.
Used by tests/test_nginx_proxy.py and bench/held_connections.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx-kiosk.conf"


def nginx_binary() -> str | None:
    """Return the nginx program, or None when it is not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(folder: Path) -> Certificates:
    """Create a throw-away CA and a server certificate it signs for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=Throw-away test CA",
             "-addext", "basicConstraints=critical,CA:true",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
             cwd=folder)
    (folder / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
             cwd=folder)
    return Certificates(folder / "ca.crt", folder / "server.crt", folder / "server.key")


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"{SITE.name} no longer has exactly one {old!r}")
    return text.replace(old, new)


METRICS_BLOCK = ("    # location = /metrics {\n    #     allow 192.0.2.20;\n    #     deny all;\n"
                 "    #     proxy_pass http://kiosk_station;\n    # }")


def site_config(upstream_port: int, https_port: int, http_port: int,
                certs: Certificates, metrics: bool = False) -> str:
    """Return the shipped site file with test ports, upstream and certificate paths.

    metrics: the /metrics block enabled as IT would, for the staff PC's address.
    """
    text = SITE.read_text()
    if metrics:
        text = _replace_once(text, METRICS_BLOCK, METRICS_BLOCK.replace("    #", "   ")
                             .replace("192.0.2.20", "127.0.0.2"))
    for old, new in [
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen [::]:443 ssl;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("/etc/kiosk/tls/kiosk.crt", str(certs.cert)),
        ("/etc/kiosk/tls/kiosk.key", str(certs.key)),
    ]:
        text = _replace_once(text, old, new)
    return text


MAIN_CONFIG = """\
daemon off;
worker_processes 1;
worker_rlimit_nofile 4096;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 2048; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/site.conf;
}}
"""


class NginxProxy:
    """nginx with the station's site file, run from folder; a context manager."""

    def __init__(self, folder: Path, upstream_port: int, certs: Certificates,
                 binary: str | None = None, metrics: bool = False):
        self.folder = folder
        self.metrics = metrics
        self.upstream_port = upstream_port
        self.certs = certs
        self.binary = binary or nginx_binary() or "nginx"
        self.process: subprocess.Popen | None = None
        self.https_port = 0
        self.http_port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def start(self, attempts: int = 3) -> NginxProxy:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(MAIN_CONFIG.format(dir=self.folder))
        for _ in range(attempts):  # a free port may be taken between asking and binding
            self.https_port, self.http_port = free_port(), free_port()
            (self.folder / "site.conf").write_text(site_config(
                self.upstream_port, self.https_port, self.http_port, self.certs,
                self.metrics))
            self.process = subprocess.Popen(
                [self.binary, "-p", str(self.folder), "-c", str(conf),
                 "-e", str(self.folder / "error.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._wait_listening():
                return self
        raise RuntimeError(f"nginx did not start: {self.error_log()}")

    def _wait_listening(self, timeout_s: float = 20) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # fast shutdown of master and worker
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> NginxProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
