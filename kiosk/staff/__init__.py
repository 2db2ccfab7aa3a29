"""Staff pages under /staff: login, orders in, packing, shelving, shelf map, audit.

Every page of the `staff` blueprint needs a logged-in staff member (see
`kiosk.staff.auth`); the optional `kiosk.staff.reports` module (labels,
clearance, statistics) adds its own pages and is registered when present.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")

from kiosk.staff import auth, words  # noqa: E402  (needs `bp` defined above)
from kiosk.staff.common import status_name  # noqa: E402

bp.before_request(auth.guard_blueprint)
bp.add_app_template_global(status_name)

VIEW_MODULES = ("kiosk.staff.views", "kiosk.staff.packing", "kiosk.staff.shelving",
                "kiosk.staff.shelfmap",
                "kiosk.staff.orders", "kiosk.staff.users", "kiosk.staff.imports")
OPTIONAL = ("kiosk.staff.reports",)


def register_nav(app: Flask, endpoint: str, label: str, admin: bool = False) -> None:
    """Add a link to the staff navigation bar (label is translated when shown)."""
    app.extensions.setdefault("staff_nav", []).append((endpoint, label, admin))


def _optional_modules() -> list:
    found = []
    for name in OPTIONAL:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found


def init_app(app: Flask) -> None:
    """Register the staff blueprint, its pages and the optional reports pages."""
    for name in VIEW_MODULES:
        importlib.import_module(name)
    # Imported before registration so that a module adding routes to `bp` still can.
    optional = _optional_modules()
    auth.init_app(app)
    words.init_app(app)
    app.register_blueprint(bp)
    for module in optional:
        module.init_app(app)
