"""`kiosk labels`: a printable sheet of shelf-slot labels with barcodes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural


def write_atomically(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file, so no half-written sheet is ever left."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Sheet to write: .pdf, .svg or .html (A4, 3 × 8 labels of 70 × 37 mm).")
@click.option("--shelf", help="Only the slots of this shelf (e.g. A).")
@pass_station
def labels(station: StationContext, out: Path, shelf: str | None) -> None:
    """Write a printable sheet of shelf-slot labels with Code 128 barcodes."""
    from kiosk.domain import labels as label_sheet
    from kiosk.domain.branches import branch_name
    from kiosk.domain.orders import NotFound
    from kiosk.extensions import db

    fmt = label_sheet.format_for(out)
    if fmt is None:
        fail(f"--out {out}: use a file name ending in .pdf, .svg or .html", 2)
    if not out.parent.is_dir():
        fail(f"--out {out}: folder {out.parent} does not exist", 2)
    app = station.ready_app()  # a station never initialised is initialised, as serve does
    with app.app_context():
        try:
            texts = label_sheet.slot_labels(db.session, shelf, station.settings.station.branch)
        except NotFound:
            fail(f"--shelf {shelf}: no such shelf; check [[shelves]] and run `kiosk init`", 2)
        except SQLAlchemyError as exc:
            fail(f"could not read the slots ({type(exc).__name__}); has `kiosk init` run?")
        finally:
            db.session.remove()
            db.engine.dispose()  # a one-shot command leaves no connection behind
    if not texts:
        fail("no slots to label; configure [[shelves]] and run `kiosk init`")
    st = station.settings.station  # the sheet names its branch: each branch has a wall
    title = f"{branch_name(st.branch)} ({st.name}): slot labels"
    try:
        write_atomically(out, label_sheet.render(texts, fmt, title))
    except OSError as exc:
        fail(f"could not write {out}: {exc.strerror or exc}")
    pages = -(-len(texts) // label_sheet.PER_PAGE)
    click.echo(f"{out}: {plural(len(texts), '%(num)d label', '%(num)d labels')} on "
               f"{plural(pages, '%(num)d page', '%(num)d pages')}, {texts[0]} … {texts[-1]}")


COMMANDS = [labels]
