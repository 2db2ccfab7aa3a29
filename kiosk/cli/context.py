"""Shared state of one CLI run: the configuration, loaded once, and the app."""

from __future__ import annotations

import click
from flask import Flask

from kiosk import config as config_mod
from kiosk.domain.messages import sentence_start
from kiosk.systemd import err_prefix


class StationContext:
    """Load settings and build the app on first use; bad configuration exits with 2."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings: config_mod.Settings | None = None
        self._app: Flask | None = None
        self._upgraded = False

    @property
    def settings(self) -> config_mod.Settings:
        if self._settings is None:
            try:
                self._settings = config_mod.load(self.config_path)
            except config_mod.ConfigError as exc:
                for problem in exc.problems:  # "<3>": the journal's err priority
                    click.echo(f"{err_prefix()}Error: {problem}", err=True)
                raise SystemExit(2) from None
        return self._settings

    def app(self, **test_config) -> Flask:
        if self._app is None:
            from kiosk import create_app

            self._app = create_app(self.settings, test_config or None)
            ctx = click.get_current_context(silent=True)
            if ctx is not None:  # a one-shot command leaves no connection behind
                ctx.call_on_close(self.close)
        return self._app

    def ready_app(self) -> Flask:
        """Return the app over a database brought up to date, as `kiosk serve` does.

        A station whose database was never initialised is initialised here (schema and
        shelves); one that cannot be reached or upgraded exits with 1 and says why.
        """
        from sqlalchemy import inspect

        from kiosk.extensions import db
        from kiosk.schema import upgrade_database

        app = self.app()
        if not self._upgraded:
            try:
                with app.app_context():
                    fresh = not inspect(db.engine).has_table("alembic_version")
                upgrade_database(app)
            except Exception as exc:  # a database that cannot be reached or upgraded
                fail(f"Database not ready ({type(exc).__name__}: {exc}); check [database] url "
                     "and run `kiosk init`")
            if fresh:
                click.echo("The database had never been initialised; it is now, as "
                           "`kiosk init` does", err=True)
            self._upgraded = True
        return app

    def close(self) -> None:
        """Close the app's database connections."""
        if self._app is not None:
            from kiosk.extensions import db

            with self._app.app_context():
                db.session.remove()
                db.engine.dispose()


pass_station = click.make_pass_decorator(StationContext)


def fail(message: str, code: int = 1) -> None:
    """Print an error and exit with code (1 failed operation, 2 bad usage).

    As click's own errors: "Error: " and the message, which starts with a capital.
    """
    click.echo(f"{err_prefix()}Error: {sentence_start(message)}", err=True)
    raise SystemExit(code)
