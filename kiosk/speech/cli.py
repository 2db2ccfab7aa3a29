"""`kiosk speech-test [--lang LANG] [--out FILE.wav] TEXT`, and speech in `kiosk check-config`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click

from kiosk.appsetup import LANGUAGES
from kiosk.cli.context import StationContext, pass_station
from kiosk.config import Settings
from kiosk.speech.engine import Espeak, SpeechError
from kiosk.speech.service import SpeechService

PLAYERS = (["aplay", "-q"], ["paplay"], ["play", "-q"])  # alsa-utils, pulseaudio, sox


def check_lines(settings: Settings, engine: Espeak | None = None) -> list[str]:
    """Return what check-config says about speech: the mode, and languages with no voice."""
    k = settings.kiosk
    if k.speech == "off":
        return ["  speech off"]
    engine = engine or Espeak()
    lines = [f"  speech {k.speech} (volume {k.speech_volume} %, rate {k.speech_rate} words "
             f"a minute)" + ("; names and titles are not spoken through a speaker"
                             if k.speech == "speaker" else "")]
    if not engine.available():
        return lines + ["  Warning: The espeak-ng program is not installed: the station cannot "
                        "speak (apt install espeak-ng)"]
    default = settings.station.language
    for lang in sorted({default, *LANGUAGES}, key=lambda x: (x != default, x)):
        voice = engine.voice_for(lang)
        if voice is None:
            lines.append(f"  Warning: No espeak-ng voice for {lang}: a screen in {lang} is "
                         f"spoken in {default}")
        elif voice.split("-")[0] != lang:
            lines.append(f"  speech {lang}: read by the {voice} voice")
    return lines


@click.command("speech-test")
@click.option("--lang", type=click.Choice(LANGUAGES),
              help="Language of the voice (default: [station] language).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a WAV file instead of playing it.")
@click.argument("text")
@pass_station
def speech_test(station: StationContext, lang: str | None, out: Path | None, text: str) -> None:
    """Speak TEXT with the station's voice and rate: play it, or write it to --out."""
    settings = station.settings
    lang = lang or settings.station.language
    if not text.strip():
        raise click.UsageError("Give a text to speak")
    service = SpeechService("speaker", settings.kiosk.speech_rate, settings.station.language)
    if not service.engine.available():
        raise click.ClickException("The espeak-ng program is not installed (apt install espeak-ng)")
    spoken = service.language(lang)
    if spoken != lang:
        click.echo(f"Warning: No espeak-ng voice for {lang}; speaking {spoken}", err=True)
    try:
        wav = service.say(text, lang)
    except SpeechError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        service.shutdown()
    if out is not None:
        try:
            out.write_bytes(wav)
        except OSError as exc:
            raise click.ClickException(f"Cannot write {out}: {exc.strerror}") from exc
        click.echo(f"Wrote {out} ({len(wav)} bytes, {spoken})")
        return
    player = next((p for p in PLAYERS if shutil.which(p[0])), None)
    if player is None:
        raise click.ClickException("No audio player found (aplay, paplay or play); "
                                   "use --out FILE.wav")
    done = subprocess.run(player + ["-"], input=wav, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"The player {player[0]} could not play the sample (no sound "
                                   "device?); use --out FILE.wav")


COMMANDS = [speech_test]
