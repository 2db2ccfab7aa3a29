"""Orders in from a file: upload, preview with every bad row, then import with progress.

The uploaded file is held in memory (it is at most MAX_CONTENT_LENGTH) under a
random token kept in the staff member's session; nothing is written until the
preview is confirmed. The import itself runs in a thread, so that the page can
show its progress; it is all or nothing (`kiosk.domain.importer`).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, jsonify, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import NotFound
from wtforms import BooleanField

from kiosk.domain import import_files, import_repeats, importer
from kiosk.domain.messages import N_, sentence_start
from kiosk.domain.orders import Actor
from kiosk.extensions import db
from kiosk.staff import bp
from kiosk.staff.auth import actor
from kiosk.staff.common import answer, station
from kiosk.staff.forms import ActionForm

KEEP_S = 3600
MAX_UPLOADS = 8
SHOWN = 50  # orders listed in a preview


class UploadForm(FlaskForm):
    file = FileField(_l("Order file (CSV, Excel, OpenDocument or JSON)"),
                     validators=[FileRequired()])
    again = BooleanField(_l("Import again: orders from this file, or the same card and item, "
                            "are open already, and I want them once more"))


@dataclass
class Upload:
    """A file waiting for confirmation, then the state of its import."""

    name: str
    data: bytes
    owner: int
    again: bool = False  # staff ticked "Import again": repeats of open orders are wanted
    created: float = field(default_factory=time.monotonic)
    state: str = "previewed"  # previewed | running | done | failed
    done: int = 0
    total: int = 0
    result: importer.ImportResult | None = None
    problems: list[import_files.Problem] = field(default_factory=list)
    thread: threading.Thread | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "done": self.done, "total": self.total,
                "orders": self.result.orders if self.result else None,
                "problems": [describe_problem(p) for p in self.problems]}


def problem_text(problem: import_files.Problem) -> str:
    """Return what is wrong, in the page's language."""
    return _(problem.problem, **problem.params)


def notice_text(notice: import_files.Notice) -> str:
    """Return a notice of the preview in the page's language."""
    return _(notice.notice, **notice.params)


def describe_problem(problem: import_files.Problem) -> str:
    """Return a problem with where it is (line, order, column), in the page's language."""
    where = [_("line %(n)s", n=problem.line) if problem.line else "",
             _("order %(ref)s", ref=problem.ref or problem.order)
             if problem.ref or problem.order else "",
             _("column %(name)s", name=problem.column) if problem.column else ""]
    prefix = sentence_start(", ".join(w for w in where if w))
    return f"{prefix}: {problem_text(problem)}" if prefix else problem_text(problem)


def _uploads(app: Flask | None = None) -> dict[str, Upload]:
    return (app or current_app).extensions.setdefault("staff_imports", {})


def _keep(upload: Upload) -> str:
    uploads = _uploads()
    now = time.monotonic()
    for token, old in list(uploads.items()):
        if old.state != "running" and (now - old.created > KEEP_S or len(uploads) >= MAX_UPLOADS):
            del uploads[token]
    token = secrets.token_urlsafe(16)
    uploads[token] = upload
    return token


def _mine(token: str) -> Upload:
    upload = _uploads().get(token)
    if upload is None or upload.owner != session.get("staff_id"):
        raise NotFound(_("This upload is gone; please upload the file again."))
    return upload


@bp.get("/import")
def import_page():
    return _upload_page(UploadForm())


def _upload_page(form: UploadForm) -> str:
    """Render the upload form; it knows the upload limit, to refuse a bigger file at once."""
    mib = import_files.MAX_BYTES // (1024 * 1024)
    return render_template("staff/orders/import.html", form=form,
                           max_bytes=import_files.MAX_BYTES,
                           too_large=_(import_files.TOO_LARGE, mib=mib))


@bp.post("/import")
def import_preview():
    form = UploadForm()
    if not form.validate():
        return _upload_page(form), 400
    file = form.file.data
    upload = Upload(name=file.filename or "upload", data=file.read(),
                    owner=session["staff_id"], again=bool(form.again.data))
    pv = importer.preview(db.session, upload.data, station().cards, station().branch,
                          import_files.detect_format(upload.data, upload.name),
                          branches=station().known_branches(db.session), name=upload.name,
                          again=upload.again)
    db.session.rollback()
    token = _keep(upload) if pv.ok else None
    repeats = any(p.problem in (import_repeats.SAME_FILE, import_repeats.SAME_ROW)
                  for p in pv.problems)
    again_form = UploadForm(formdata=None, again=True) if repeats else None
    return render_template("staff/orders/import_preview.html", pv=pv, upload=upload,
                           token=token, shown=pv.drafts[:SHOWN], form=ActionForm(),
                           again_form=again_form, notice_text=notice_text,
                           problem_text=problem_text), 200 if pv.ok else 422


def _run(app: Flask, upload: Upload, who: Actor) -> None:
    def progress(done: int, total: int) -> None:
        upload.done, upload.total = done, total

    with app.app_context():
        st = app.extensions["station"]
        try:
            upload.result = importer.import_orders(
                db.session, upload.data, who, st.cards, st.branch, progress=progress,
                fmt=import_files.detect_format(upload.data, upload.name),
                branches=st.known_branches(db.session), name=upload.name, again=upload.again)
            upload.state = "done"
        except importer.ImportFailed as exc:
            upload.problems = exc.problems
            upload.state = "failed"
        except Exception as exc:  # noqa: BLE001  (shown to staff; the import wrote nothing)
            app.logger.exception("import of %s failed", upload.name)
            upload.problems = [import_files.Problem(N_("Unexpected error: %(kind)s"),
                                                    params={"kind": exc.__class__.__name__})]
            upload.state = "failed"
        finally:
            upload.data = b""
            db.session.remove()


@bp.post("/import/<token>")
def import_confirm(token: str):
    ActionForm()
    upload = _mine(token)
    if upload.state != "previewed":
        return answer(_("This file is imported already."), ok=False,
                      to=url_for("staff.import_status", token=token))
    upload.state = "running"
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upload.thread = threading.Thread(target=_run, args=(app, upload, actor()),
                                     name="staff-import", daemon=True)
    upload.thread.start()
    return answer(_("Import started."), to=url_for("staff.import_status", token=token))


@bp.get("/import/<token>")
def import_status(token: str):
    upload = _mine(token)
    return render_template("staff/orders/import_status.html", upload=upload, token=token,
                           describe_problem=describe_problem)


@bp.get("/import/<token>/progress")
def import_progress(token: str):
    return jsonify(_mine(token).as_dict())
