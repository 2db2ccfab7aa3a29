"""The last good set of offers per feed, kept in the state folder so a dead feed
(or a restart while it is dead) still leaves the screen with something to show.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from kiosk.config import Settings, default_state_dir
from kiosk.offers.sources import Offer

log = logging.getLogger(__name__)

FOLDER_NAME = "offers-cache"


def cache_folder(settings: Settings) -> Path:
    """Return the folder for cached feeds: beside the SQLite database, else the state folder."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / FOLDER_NAME
    return default_state_dir() / FOLDER_NAME


def feed_key(entry: dict[str, Any]) -> str:
    """Return a file-name-safe key of a feed entry (a changed entry starts a fresh cache)."""
    text = json.dumps(entry, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class OfferCache:
    """Read and write one JSON file per feed; writes are atomic (temp file + rename)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """Return the file of the feed with this key."""
        return self.folder / f"{key}.json"

    def load(self, key: str) -> tuple[float, list[Offer]] | None:
        """Return (fetched_at, offers) of the last good set, or None if there is none usable."""
        path = self.path(key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return float(doc["fetched_at"]), [Offer.from_dict(o) for o in doc["offers"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("offers cache %s unreadable, ignored: %s", path, exc)
            return None

    def save(self, key: str, feed: str, fetched_at: float, offers: list[Offer]) -> None:
        """Store a feed's good set; a failure is logged, never raised (the screen goes on)."""
        doc = {"feed": feed, "fetched_at": fetched_at, "offers": [o.as_dict() for o in offers]}
        tmp_name = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.folder,
                                             prefix=f".{key}.", suffix=".tmp",
                                             delete=False) as fh:
                tmp_name = fh.name
                json.dump(doc, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, self.path(key))
            tmp_name = None
        except OSError as exc:
            log.warning("could not write offers cache %s: %s", self.path(key), exc)
        finally:
            if tmp_name:
                Path(tmp_name).unlink(missing_ok=True)
