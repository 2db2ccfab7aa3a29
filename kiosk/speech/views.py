"""The page's audio: GET /kiosk/speech/... WAV files, and the hook that starts a scan's audio.

- /kiosk/speech/scan/<event_id>.wav?lang=nb: what is said after that scan
- /kiosk/speech/slip/<event_id>.wav?lang=nb: the printed slip's content
- /kiosk/speech/message/<key>.wav?lang=nb: one of the screen's own messages
- /kiosk/speech/tone/<ok|fail>.wav: the tone before the words
With `speech = "off"` none of this is registered: the screen stays as it was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Blueprint, Flask, Response, current_app, has_request_context, request
from flask_babel import get_locale

from kiosk.appsetup import LANGUAGES
from kiosk.extensions import limiter
from kiosk.speech.engine import TONES, SpeechBusy, SpeechError
from kiosk.speech.sentences import MESSAGES
from kiosk.speech.service import SpeechService
from kiosk.views.errors import json_error

log = logging.getLogger(__name__)
bp = Blueprint("speech", __name__, url_prefix="/kiosk/speech")
WAIT_S = 10.0
PAGE_PART = "speech/_page.html"


def _service() -> SpeechService:
    return current_app.extensions["speech"]


def _lang() -> str | None:
    lang = request.args.get("lang", "")
    return lang if lang in LANGUAGES else None


def _bad_lang() -> Any:
    return json_error(400, "bad request",
                      f"The lang parameter must be one of {', '.join(LANGUAGES)}")


def _busy() -> Any:
    body, status = json_error(503, "speech busy",
                              "The station is busy speaking; try again in a moment")
    return body, status, {"Retry-After": "1"}


def _wav(start: Callable[[], Future], private: bool = True) -> Any:
    """Answer with the audio start() gives: at once when ready, after a bounded wait by one
    of the service's few waiters, else 503 at once (no request thread queues for audio)."""
    service = _service()
    try:
        future = start()
    except SpeechBusy:
        return _busy()
    waited = False
    if not future.done():
        if not service.waiting.acquire(blocking=False):
            return _busy()
        waited = True
    try:
        wav = future.result(timeout=WAIT_S)
    except FutureTimeout:
        return json_error(503, "speech not ready", "Try again")
    except SpeechError as exc:
        log.error("speech: %s", exc)
        return json_error(503, "speech unavailable", "The station cannot speak just now")
    finally:
        if waited:
            service.waiting.release()
    cache = "no-store" if private else "public, max-age=3600"
    return Response(wav, mimetype="audio/wav", headers={"Cache-Control": cache})


def _event(text: str) -> int | str | None:
    """Return the event id in a URL: a number, or a token (ids may be random)."""
    if text.isdigit() and len(text) < 20:
        return int(text)
    return text if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text) else None


def _recent(event_id: int | str | None):
    if event_id is None:
        return None
    entry = current_app.extensions["station"].recent(event_id)
    return None if entry is None else entry[1]


@bp.get("/scan/<event>.wav")
def scan(event: str):
    lang = _lang()
    if lang is None:
        return _bad_lang()
    event_id = _event(event)
    data = _recent(event_id)
    if data is None:
        return json_error(404, "scan not on screen", "This screen has gone idle")
    return _wav(lambda: _service().scan_audio(event_id, data, lang))


@bp.get("/slip/<event>.wav")
def slip(event: str):
    lang = _lang()
    if lang is None:
        return _bad_lang()
    event_id = _event(event)
    data = _recent(event_id)
    if data is None or data.get("outcome") != "ready" or not data.get("pickups"):
        return json_error(404, "no slip", "This scan has nothing on the shelf")
    station = current_app.extensions["station"]
    return _wav(lambda: _service().slip_audio(event_id, data, lang, station.name))


@bp.get("/message/<key>.wav")
def message(key: str):
    lang = _lang()
    if lang is None or key not in MESSAGES:
        return json_error(404, "no such message", f"Known messages: {', '.join(MESSAGES)}")
    return _wav(lambda: _service().message_audio(key, lang), private=False)


@bp.get("/tone/<kind>.wav")
def tone(kind: str):
    if kind not in TONES:
        return json_error(404, "no such tone", "Known tones: ok, fail")
    return Response(_service().tone_wav(kind), mimetype="audio/wav",
                    headers={"Cache-Control": "public, max-age=3600"})


def _start_scan_audio(app: Flask, service: SpeechService):
    """Return the scan hook: queue the scan's audio in the screen's language (no waiting)."""

    def hook(data: dict[str, Any], _elapsed: float) -> None:
        lang = None
        if has_request_context():
            locale = get_locale()
            lang = str(locale) if locale is not None else None
        if lang not in LANGUAGES:
            lang = app.config["KIOSK_SETTINGS"].station.language
        try:
            service.scan_audio(data["event_id"], data, lang)
        except SpeechBusy:  # the scan is answered all the same; its audio is asked again
            log.info("speech: busy, audio of scan %s not started", data["event_id"])

    return hook


def init_app(app: Flask) -> None:
    settings = app.config["KIOSK_SETTINGS"]
    k = settings.kiosk
    if k.speech == "off" or settings.station.role == "desk":
        return
    service = SpeechService(k.speech, k.speech_rate, settings.station.language,
                            keep_s=k.idle_seconds * 3 + 60)  # as long as the scan is kept
    app.extensions["speech"] = service
    for lang in LANGUAGES:
        service.language(lang)  # a language with no voice is logged once, at start
    if not app.testing:  # shared sentences of every language ahead (tests: on demand)
        default = settings.station.language
        service.warming = service.warm([default, *(x for x in LANGUAGES if x != default)])
    app.register_blueprint(bp)
    limiter.exempt(bp)  # the scans themselves are limited; their audio follows them
    station = app.extensions["station"]
    station.scan_hooks.append(_start_scan_audio(app, service))
    app.config.setdefault("KIOSK_PATRON_PARTS", []).append(PAGE_PART)
