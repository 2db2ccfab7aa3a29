"""Run the station: waitress serving the app, plus the background services configured."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from flask import Flask
from waitress.server import create_server

from kiosk.appsetup import request_threads

log = logging.getLogger(__name__)

# Each starter gets the app, starts its background work and returns a stopper.
Starter = Callable[[Flask], Callable[[], None]]
STARTERS: list[str] = [
    "kiosk.devices.runtime:start",
    "kiosk.ils.runtime:start",
    "kiosk.offers.runtime:start",
    "kiosk.staff.jobs:start",
    "kiosk.webhooks.runtime:start",
    "kiosk.fleet.runtime:start",
    "kiosk.outage.runtime:start",
]


def start_services(app: Flask) -> list[Callable[[], None]]:
    """Start every available background service; return their stoppers."""
    import importlib

    stoppers = []
    for spec in STARTERS:
        module_name, func = spec.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        stoppers.append(getattr(module, func)(app))
    return stoppers


LIMITS = ("connection_limit", "channel_timeout", "cleanup_interval", "backlog",
          "max_request_header_size", "max_request_body_size")


def make_server(app: Flask, host: str, port: int):
    """Return a waitress server for app with the `[server]` limits and threads enough
    for the open event streams."""
    settings = app.config["KIOSK_SETTINGS"]
    limits = {key: settings.server[key] for key in LIMITS}
    # waitress drops X-Forwarded-* headers unless told otherwise; with a trusted proxy
    # they reach the app, where ProxyFix (kiosk.webpolicy) takes exactly one hop of them.
    limits["clear_untrusted_proxy_headers"] = not settings.server.trusted_proxy
    # poll(), not select(): select() cannot watch descriptors past 1024, so a connection
    # limit in the hundreds would otherwise fail under load.
    return create_server(app, host=host, port=port, threads=request_threads(settings),
                         asyncore_use_poll=True, ident="kiosk", **limits)


def stop_server(app: Flask, server, timeout_s: float = 5.0) -> None:
    """Stop a running waitress server in order: end event streams, let requests finish, close.

    Closing the sockets under a worker thread still writing a stream makes waitress
    log errors; so streams end first, the workers stop, then the loop's own thread
    closes every channel, which ends `server.run()`.
    """
    app.extensions["station"].bus.close()
    server.task_dispatcher.shutdown(timeout=timeout_s)

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_all)
    except OSError:  # the loop is gone already
        server.close()


class ListenError(Exception):
    """The web server could not listen on its address (port in use, no such address)."""


class Reload(Exception):  # noqa: N818 (a request, not a failure)
    """SIGHUP asked for a reload: the station has shut down and wants to start anew."""


class _Signalled(KeyboardInterrupt):
    """A stop signal, raised as KeyboardInterrupt: the one exception waitress's loop
    lets through (it swallows the rest) and answers by ending `run()`."""


def _install_signal_handlers(app: Flask, received: list[int], armed: list[bool],
                             reloadable: bool) -> dict[int, object]:
    """Make SIGTERM (systemd's stop), SIGINT and (reloadable) SIGHUP end the loop.

    Each signal is noted in received; while armed is empty it is only noted (start-up
    runs to its end, so every started service is stopped, and the loop is not entered).
    Return the handlers the signals had before.
    """

    def handler(signum: int, _frame) -> None:
        if received:  # already stopping: let the shutdown code run to its end
            return
        received.append(signum)
        if armed:
            app.extensions["station"].bus.close()  # event streams end: workers can stop
            raise _Signalled

    signals = [signal.SIGTERM, signal.SIGINT] + ([signal.SIGHUP] if reloadable else [])
    return {sig: signal.signal(sig, handler) for sig in signals}


def serve(app: Flask, host: str, port: int, on_ready: Callable[[], None] | None = None,
          reloadable: bool = False) -> None:
    """Serve until SIGTERM or SIGINT; start background services first, stop them after.

    With reloadable, SIGHUP shuts down the same way, then raises Reload for the caller
    to start anew (`kiosk serve` re-executes itself: systemctl reload).
    Raises ListenError when the address cannot be listened on.
    """
    name = app.config["KIOSK_SETTINGS"].station.name
    try:
        server = make_server(app, host, port)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    received: list[int] = []
    armed: list[bool] = []
    previous = _install_signal_handlers(app, received, armed, reloadable)
    stoppers = []
    try:
        try:
            stoppers = start_services(app)
            log.info("station %s serving on http://%s:%s", name, host, server.effective_port)
            if on_ready:
                on_ready()
            armed.append(True)
            if not received:
                server.run()  # returns after a stop signal (waitress ends its loop on it)
        except _Signalled:  # the signal came between arming and the loop
            pass
    finally:
        if received:  # the rest of the shutdown is not interrupted by a second signal
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)
        why = signal.Signals(received[0]).name if received else "its loop ended"
        from kiosk.systemd import notify

        notify("STOPPING=1" if why != "SIGHUP" else "RELOADING=1")
        watchdog = app.extensions.pop("kiosk.watchdog", None)
        if watchdog is not None:
            watchdog.stop()
        app.extensions["station"].bus.close()
        server.close()  # run() has returned: its loop and workers are done
        for stop in stoppers:
            try:
                stop()
            except Exception:
                log.exception("stopping a service failed")
        for sig, old in previous.items():
            signal.signal(sig, old)
        log.info("station %s stopped (%s): services and web server shut down", name, why)
    if received and received[0] == signal.SIGHUP:
        raise Reload
