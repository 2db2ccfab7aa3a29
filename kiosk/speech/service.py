"""The station's voice at run time: sentences to WAV on worker threads, with bounded caches.

A scan's audio is started by a hook on the scan path (it only queues work, so the scan's
answer is never delayed) and fetched by the page a moment later. Sentences that are the
same for every patron keep their audio (an LRU bounded in bytes); a scan's own sentences
(slot, code, names) live only with that scan's entry, which goes with the scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from xml.sax.saxutils import escape

from kiosk import clock
from kiosk.speech.engine import Audio, Espeak, SpeechBusy, SpeechError, join, to_wav, tone
from kiosk.speech.sentences import MESSAGES, Sentence, Speaker, document, spell

log = logging.getLogger(__name__)

FIXED_CACHE_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 64  # scans (and slips, messages) whose audio is kept for the page
MAX_QUEUE = 8  # answers waiting for (or in) synthesis; more are refused, not queued
WAITERS = 4  # request threads that may wait for audio at once (waitress has 16)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
WARM_NUMBERS = 40  # slot numbers ready ahead; higher ones are kept once said
SAMPLES = ({"outcome": "ready", "waiting": 1, "pickups": [
    {"pickup_code": "", "slot": "", "items": 1}]}, {"outcome": "waiting"},
    {"outcome": "nothing"}, {"outcome": "pin_required"}, {"outcome": "staff"})


class SpeechService:
    """Synthesises what the station says and keeps it for the page to fetch."""

    def __init__(self, mode: str, rate: int, default_lang: str, engine: Espeak | None = None,
                 keep_s: float = 120.0, workers: int = 2, max_queue: int = MAX_QUEUE,
                 waiters: int = WAITERS):
        self.mode = mode
        self.rate = rate
        self.default_lang = default_lang
        self.engine = engine or Espeak()
        self.keep_s = keep_s
        # Its own few threads: audio never takes a request thread, however much is asked.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="speech")
        self.max_queue = max_queue
        self._pending = 0  # answers submitted and not yet done
        self.waiting = threading.BoundedSemaphore(waiters)  # held by requests waiting on audio
        self._lock = threading.RLock()  # a done callback may run inside _entry
        self._fixed: OrderedDict[tuple[str, str, int], Audio] = OrderedDict()
        self._fixed_bytes = 0
        self._entries: OrderedDict[tuple, tuple[float, Future]] = OrderedDict()
        self._warned: set[str] = set()
        self.sent: Callable[[str, str], None] | None = None  # tests: (voice, ssml) per call
        self.warming: Future | None = None

    @property
    def private(self) -> bool:
        """Names and titles may be spoken: only into headphones."""
        return self.mode == "headphones"

    def language(self, lang: str) -> str:
        """Return lang when a voice reads it, else the station's language (logged once)."""
        if self.engine.voice_for(lang):
            return lang
        instead = self.default_lang if self.engine.voice_for(self.default_lang) else "en"
        if lang not in self._warned:
            self._warned.add(lang)
            log.warning("speech: no espeak-ng voice for %s; speaking %s instead", lang, instead)
        return instead

    def speaker(self, lang: str) -> Speaker:
        return Speaker(self.language(lang), private=self.private)

    # --- entry points -------------------------------------------------------------

    def scan_audio(self, event_id: int | str, data: dict[str, Any], lang: str) -> Future:
        """Return (start if needed) the WAV of what is said after this scan; raise
        SpeechBusy when max_queue answers are already waiting."""
        return self._entry(("scan", event_id, lang),
                           lambda sp: sp.scan(data), lang)

    def slip_audio(self, event_id: int | str, data: dict[str, Any], lang: str,
                   station: str) -> Future:
        return self._entry(("slip", event_id, lang), lambda sp: sp.slip(data, station), lang)

    def message_audio(self, key: str, lang: str) -> Future:
        return self._entry(("message", key, lang), lambda sp: sp.message(key), lang,
                           keep=True)

    def tone_wav(self, kind: str) -> bytes:
        return to_wav(tone(kind))

    def say(self, text: str, lang: str) -> bytes:
        """Return the WAV of free text (for `kiosk speech-test`), synchronously."""
        lang = self.language(lang)
        return to_wav(self.render([Sentence(text, escape(text), False)], lang))

    def warm(self, langs: list[str], days: int = 21) -> Future:
        """Synthesise the shared sentences ahead, at low priority, language by language:
        letters, digits, slot numbers, messages, outcomes and the coming days' last day."""
        return self._pool.submit(lambda: sum(self._warm(lang, days) for lang in langs))

    def _warm(self, lang: str, days: int) -> int:
        speaker = self.speaker(lang)
        voice = self.engine.voice_for(speaker.lang)
        if voice is None or speaker.lang != lang:
            return 0
        today = clock.today()
        sentences = [Sentence(c, spell(c), True) for c in LETTERS]
        sentences += [Sentence(str(n), str(n), True) for n in range(1, WARM_NUMBERS + 1)]
        for key in MESSAGES:
            sentences += speaker.message(key)
        for data in SAMPLES:
            sentences += speaker.scan(data)
        for n in range(days):  # the last days to come, and counts of items and orders
            day = (today + dt.timedelta(days=n)).isoformat()
            sentences += speaker.scan({"outcome": "ready", "waiting": n % 10 + 1, "pickups": [
                {"pickup_code": "", "slot": "", "items": n % 10 + 1, "deadline": day}]})
        fixed = list({s.ssml: s for s in sentences if s.fixed and s.text.strip(" .")}.values())
        for sentence in fixed:
            self._fixed_audio(sentence, voice, background=True)
        log.info("speech: %d shared sentences of %s ready", len(fixed), speaker.lang)
        return len(fixed)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- work -----------------------------------------------------------------------

    def _entry(self, key: tuple, build: Callable[[Speaker], list[Sentence]], lang: str,
               keep: bool = False) -> Future:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[1]
            if self._pending >= self.max_queue:
                raise SpeechBusy(f"{self._pending} answers are waiting to be spoken")
            speaker = self.speaker(lang)
            future = self._pool.submit(self._wav, build, speaker)
            self._pending += 1
            future.add_done_callback(self._done)
            self._entries[key] = (float("inf") if keep else now, future)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
            return future

    def _done(self, _future: Future) -> None:
        with self._lock:
            self._pending -= 1

    def _expire(self, now: float) -> None:
        for key in [k for k, (t, _f) in self._entries.items() if now - t > self.keep_s]:
            del self._entries[key]

    def _wav(self, build: Callable[[Speaker], list[Sentence]], speaker: Speaker) -> bytes:
        started = time.perf_counter()
        wav = to_wav(self.render(build(speaker), speaker.lang))
        log.debug("speech: %d bytes in %.0f ms", len(wav), (time.perf_counter() - started) * 1e3)
        return wav

    def render(self, sentences: list[Sentence], lang: str) -> Audio:
        """Return the audio of the sentences: shared ones from the cache, the rest in one go."""
        voice = self.engine.voice_for(self.language(lang))
        if voice is None:
            raise SpeechError(f"no espeak-ng voice for {lang} or {self.default_lang}")
        parts: list[tuple[Audio, float]] = []
        run: list[Sentence] = []
        for sentence in [*sentences, None]:
            if sentence is not None and not sentence.fixed:
                run.append(sentence)
                continue
            if run:  # a scan's own sentences (a name, titles): one engine call, kept nowhere
                parts.append((self._synth(document(run, voice), voice), run[-1].pause))
                run = []
            if sentence is not None:
                parts.append((self._fixed_audio(sentence, voice), sentence.pause))
        return join(parts)

    def _fixed_audio(self, sentence: Sentence, voice: str, background: bool = False) -> Audio:
        key = (voice, hashlib.sha256(sentence.ssml.encode()).hexdigest(), self.rate)
        with self._lock:
            audio = self._fixed.get(key)
            if audio is not None:
                self._fixed.move_to_end(key)
                return audio
        audio = self._synth(document([sentence], voice), voice, background)
        with self._lock:
            if key not in self._fixed:
                self._fixed[key] = audio
                self._fixed_bytes += len(audio.frames)
            while self._fixed_bytes > FIXED_CACHE_BYTES and self._fixed:
                _k, old = self._fixed.popitem(last=False)
                self._fixed_bytes -= len(old.frames)
        return audio

    def _synth(self, ssml: str, voice: str, background: bool = False) -> Audio:
        if self.sent is not None:
            self.sent(voice, ssml)
        return self.engine.synthesize(ssml, voice, self.rate, background)
