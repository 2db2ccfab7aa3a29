"""Speech synthesis on the station: espeak-ng as a subprocess (no network), WAV in and out.

Sentences reach the engine as SSML, so a slot label and a pickup code are spelled out
(`<say-as interpret-as="characters">`): "A 4", not "A minus null fire".
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import struct
import subprocess
import threading
import wave
from dataclasses import dataclass

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
# The screen's language → the espeak-ng voice that reads it. Nynorsk has no voice of its
# own in espeak-ng; the bokmål voice reads it well enough (the spelling differs a little).
VOICES = {"nb": "nb", "nn": "nb", "en": "en-gb", "ar": "ar", "uk": "uk", "pl": "pl",
          "so": "so"}
SYNTH_TIMEOUT_S = 10.0
MAX_SSML_CHARS = 3000  # one engine call: a few sentences, never a catalogue
MAX_SECONDS = 60.0  # one answer's audio, tones and pauses included (about 2.6 MB)


class SpeechError(RuntimeError):
    """The engine is missing or failed to synthesise."""


class SpeechBusy(SpeechError):
    """Too much audio is waiting to be made; the caller should try again shortly."""


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit PCM and its sample rate."""

    frames: bytes
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.frames) / 2 / self.rate


class Espeak:
    """espeak-ng on this machine: which voices it has, and text (SSML) to audio."""

    def __init__(self, program: str = ESPEAK):
        self.program = shutil.which(program) or program
        self._voices: set[str] | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        return shutil.which(self.program) is not None

    def voices(self) -> set[str]:
        """Return the names of the voices installed (empty when espeak-ng is missing)."""
        with self._lock:
            if self._voices is None:
                self._voices = set()
                try:
                    out = subprocess.run([self.program, "--voices"], capture_output=True,
                                         text=True, timeout=SYNTH_TIMEOUT_S, check=True).stdout
                except (OSError, subprocess.SubprocessError) as exc:
                    log.error("speech: cannot list espeak-ng voices: %s", exc)
                    return set()
                for line in out.splitlines()[1:]:
                    parts = line.split()
                    if len(parts) >= 2:
                        self._voices.add(parts[1])
            return set(self._voices)

    def voice_for(self, lang: str) -> str | None:
        """Return the voice that reads lang, or None when this machine has none."""
        voice = VOICES.get(lang, lang)
        installed = self.voices()
        if voice in installed:
            return voice
        base = voice.split("-")[0]
        return base if base in installed else None

    def synthesize(self, ssml: str, voice: str, rate: int, background: bool = False) -> Audio:
        """Return the audio of one SSML text spoken by voice at rate words a minute.

        background: at the lowest CPU priority (work done ahead must not slow a scan).
        """
        if len(ssml) > MAX_SSML_CHARS:
            raise SpeechError(f"text too long to speak ({len(ssml)} characters, at most "
                              f"{MAX_SSML_CHARS})")
        cmd = [self.program, "-m", "-v", voice, "-s", str(int(rate)), "--stdout"]
        if background and shutil.which("nice"):
            cmd = ["nice", "-n", "19", *cmd]
        try:
            done = subprocess.run(cmd, input=ssml.encode("utf-8"), capture_output=True,
                                  timeout=SYNTH_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SpeechError(f"espeak-ng did not run: {exc}") from exc
        if done.returncode != 0 or not done.stdout:
            raise SpeechError(f"espeak-ng failed ({done.returncode}): "
                              f"{done.stderr.decode('utf-8', 'replace').strip()[:200]}")
        return trim(read_wav(_fix_stream_header(done.stdout)))


def _fix_stream_header(data: bytes) -> bytes:
    """Put the real sizes into a WAV written to a pipe (espeak-ng leaves them at 0x7fffffff)."""
    if len(data) < 44 or data[:4] != b"RIFF":
        return data
    pos = 12
    out = bytearray(data)
    while pos + 8 <= len(out):
        chunk, size = out[pos:pos + 4], struct.unpack_from("<I", out, pos + 4)[0]
        if chunk == b"data":
            struct.pack_into("<I", out, pos + 4, len(out) - pos - 8)
            break
        pos += 8 + size
    struct.pack_into("<I", out, 4, len(out) - 8)
    return bytes(out)


def read_wav(data: bytes) -> Audio:
    """Return the PCM of a mono 16-bit WAV."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise SpeechError("expected mono 16-bit audio")
            return Audio(w.readframes(w.getnframes()), w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise SpeechError(f"not a WAV file: {exc}") from exc


def to_wav(audio: Audio) -> bytes:
    """Return audio as a WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.rate)
        w.writeframes(audio.frames)
    return buf.getvalue()


def silence(seconds: float, rate: int) -> Audio:
    return Audio(b"\0\0" * int(seconds * rate), rate)


def trim(audio: Audio, threshold: int = 300) -> Audio:
    """Return audio without the near-silence espeak-ng puts before and after the words."""
    samples = memoryview(audio.frames).cast("h")
    start, end = 0, len(samples)
    while start < end and abs(samples[start]) < threshold:
        start += 1
    while end > start and abs(samples[end - 1]) < threshold:
        end -= 1
    return Audio(audio.frames[start * 2:end * 2], audio.rate)


def join(parts: list[tuple[Audio, float]], max_seconds: float = MAX_SECONDS) -> Audio:
    """Return the parts one after the other, each followed by its pause (seconds), cut
    at max_seconds."""
    if not parts:
        raise SpeechError("nothing to join")
    rate = parts[0][0].rate
    limit = int(max_seconds * rate) * 2
    frames = bytearray()
    for audio, pause in parts:
        if audio.rate == rate:
            frames += audio.frames + silence(pause, rate).frames
        if len(frames) >= limit:
            log.warning("speech: audio cut at %.0f s", max_seconds)
            break
    return Audio(bytes(frames[:limit]), rate)


# Two short tones before any speech: a rising pair confirms a read, a low buzz signals a
# failed one (distinct in pitch, rhythm and timbre, so neither needs sight nor language).
TONES = {"ok": ((880.0, 0.08, "sine"), (0.0, 0.03, "sine"), (1320.0, 0.12, "sine")),
         "fail": ((220.0, 0.18, "square"), (0.0, 0.06, "sine"), (196.0, 0.25, "square"))}


def tone(kind: str, rate: int = 22050, level: float = 0.35) -> Audio:
    """Return the read-confirmed ("ok") or failed-read ("fail") tone."""
    frames = bytearray()
    for freq, seconds, shape in TONES[kind]:
        n = int(seconds * rate)
        fade = max(1, int(0.005 * rate))  # no clicks at the edges
        for i in range(n):
            if freq <= 0:
                value = 0.0
            else:
                s = math.sin(2 * math.pi * freq * i / rate)
                value = (1.0 if s >= 0 else -1.0) * 0.5 if shape == "square" else s
            envelope = min(1.0, i / fade, (n - 1 - i) / fade)
            frames += struct.pack("<h", int(32767 * level * value * envelope))
    return Audio(bytes(frames), rate)
