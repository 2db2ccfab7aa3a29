"""`kiosk import FILE`: orders from CSV, a spreadsheet (.xlsx, .ods) or JSON, all or nothing."""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural

PROGRESS_FROM = 200  # orders; smaller files finish before a bar would be seen


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "ods", "json"]),
              help="File format (default: from the content, else the extension).")
@click.option("--dry-run", is_flag=True, help="Check the file and report, import nothing.")
@click.option("--again", is_flag=True,
              help="Import rows that open orders hold already (the same card and item, or "
                   "the same file imported before); without it they are refused.")
@pass_station
def import_(station: StationContext, file: str, fmt: str | None, dry_run: bool,
            again: bool) -> None:
    """Import orders from a CSV, .xlsx, .ods or JSON FILE ("-" for stdin); all or nothing.

    CSV may use `,` or `;` and be UTF-8 (with or without BOM) or Windows-1252: both are
    detected. Columns: card, item_barcode, title, order_ref, branch, or their Norwegian
    names (lånekort, strekkode, tittel, referanse, filial ...; see docs/staff-pages.md). A branch
    the library does not know (see [station] branches) is a problem too, and so are rows
    that open orders hold already, unless --again.
    """
    from kiosk.extensions import db

    app = station.ready_app()  # a station never initialised is initialised, as serve does
    source = sys.stdin.buffer if file == "-" else file
    with app.app_context():
        try:
            _import(app.extensions["station"], file, source, fmt, dry_run, again)
        finally:
            db.session.remove()
            db.engine.dispose()  # a one-shot command leaves no connection behind


def _import(st: Any, file: str, source: str | IO[bytes], fmt: str | None,
            dry_run: bool, again: bool = False) -> None:
    from kiosk.domain import import_repeats, importer
    from kiosk.domain.orders import Actor
    from kiosk.extensions import db

    branches = st.known_branches(db.session)
    pv = importer.preview(db.session, source, st.cards, st.branch, fmt, branches,
                          name=click.format_filename(file, shorten=True), again=again)
    for notice in pv.notices:
        click.echo(f"{file}: {notice}", err=True)
    if not pv.ok:
        if any(p.problem in (import_repeats.SAME_FILE, import_repeats.SAME_ROW)
               for p in pv.problems):
            click.echo(f"{file}: open orders hold these rows already; `kiosk import --again` "
                       "imports them once more", err=True)
        _report(file, pv.problems)
    if dry_run:
        click.echo(f"{file}: {_summary(len(pv.drafts), pv.items, pv.per_branch)} "
                   "(dry run, nothing imported)")
        return
    actor = Actor(f"import {click.format_filename(file, shorten=True)}"[:100], st.name)
    total = len(pv.drafts)
    show_bar = total >= PROGRESS_FROM and sys.stderr.isatty()
    with click.progressbar(length=total, label="importing", file=sys.stderr,
                           hidden=not show_bar) as bar:

        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.pos)

        try:
            result = importer.import_orders(db.session, pv, actor, st.cards, st.branch,
                                            progress=progress, branches=branches)
        except importer.ImportFailed as exc:
            _report(file, exc.problems)
    click.echo(f"{file}: Imported {_summary(result.orders, result.items, result.per_branch)}")


def _summary(orders: int, items: int, per_branch: dict[str, int]) -> str:
    branches = ", ".join(f"{b} {n}" for b, n in sorted(per_branch.items()))
    return (f"{plural(orders, '%(num)d order', '%(num)d orders')} with "
            f"{plural(items, '%(num)d item', '%(num)d items')} ({branches})")


def _report(file: str, problems: list) -> None:
    for problem in problems:
        click.echo(f"{file}: {problem}", err=True)
    more = getattr(problems, "more", 0)  # past the first ones a preview keeps, only counted
    if more:
        click.echo(f"{file}: … and {more} more", err=True)
    fail(f"{file}: {plural(len(problems) + more, '%(num)d problem', '%(num)d problems')}; "
         "nothing imported")


COMMANDS = [import_]
