"""Run the station: waitress serving the app, plus the background services configured."""

from __future__ import annotations

import logging
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


def serve(app: Flask, host: str, port: int, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until interrupted; start background services first, stop them after."""
    stoppers = start_services(app)
    server = make_server(app, host, port)
    log.info("station %s serving on http://%s:%s", app.config["KIOSK_SETTINGS"].station.name,
             host, server.effective_port)
    if on_ready:
        on_ready()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["station"].bus.close()
        server.close()  # run() has returned: its loop and workers are done
        for stop in stoppers:
            try:
                stop()
            except Exception:
                log.exception("stopping a service failed")
