"""Speech output (kiosk/speech): real espeak-ng, every outcome in every language, HTTP, CLI."""

from __future__ import annotations

import array
import io
import json
import math
import re
import shutil
import threading
import urllib.error
import urllib.request
import wave
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from factories import make_order

from kiosk import config
from kiosk.cli import cli
from kiosk.speech import sentences as speech_sentences
from kiosk.speech.engine import Espeak, SpeechError
from kiosk.speech.sentences import MESSAGES, SCAN_OUTCOMES, Sentence, Speaker, translations
from kiosk.speech.service import SpeechService

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed")

CARD = "N123456789"
SPOKEN = ("nb", "nn", "en")
READY = {"outcome": "ready", "waiting": 1, "name": "Kari Nordmann", "notices": [],
         "pickups": [{"order_id": 1, "pickup_code": "KR-472", "slot": "A-04", "items": 2,
                      "deadline": "2026-12-07", "titles": ["Sult"]}]}
RESULTS = {"ready": READY, "waiting": {"outcome": "waiting", "waiting": 2},
           "nothing": {"outcome": "nothing"}, "not_recognised": {"outcome": "not_recognised"},
           "pin_required": {"outcome": "pin_required", "notices": ["pin_required"]},
           "staff": {"outcome": "staff"},
           # a bag at another branch, [kiosk] tell_other_branch on (issue 24)
           "elsewhere": {"outcome": "nothing", "elsewhere": ["Bekkestua"]}}


def measure(wav: bytes) -> tuple[float, float]:
    """Return (seconds, RMS as a share of full scale) of a mono 16-bit WAV."""
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        samples = array.array("h", w.readframes(w.getnframes()))
        seconds = w.getnframes() / w.getframerate()
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples))) / 32768
    return seconds, rms


@pytest.fixture(scope="module")
def service():
    sent: list[tuple[str, str]] = []
    svc = SpeechService("headphones", 175, "nb")
    svc.sent = lambda voice, ssml: sent.append((voice, ssml))
    svc.sent_log = sent  # type: ignore[attr-defined]
    yield svc
    svc.shutdown()


@pytest.mark.parametrize("lang", SPOKEN)
def test_every_outcome_on_screen_is_spoken_in_its_own_words(lang):
    """Each result the screen can show (a *_title among its texts) is heard with that title.

    A new outcome on the screen with no spoken sentence, or one spoken in other words than
    the screen's (or untranslated), fails here.
    """
    data = (Path(__file__).parent.parent / "kiosk/templates/patron/_data.html").read_text()
    titles = dict(re.findall(r'"(\w+)_title": _\("([^"]+)"\)', data))
    assert {"ready", "waiting", "nothing", "not_recognised", "busy", "error"} <= set(titles)
    gettext = translations(lang).gettext
    speaker = Speaker(lang, private=True)
    aliases = {"pin": "pin_required"}
    for outcome, msgid in titles.items():
        outcome = aliases.get(outcome, outcome)
        if outcome in RESULTS:
            said = [s.text for s in speaker.scan(RESULTS[outcome])]
        elif outcome in MESSAGES:
            said = [s.text for s in speaker.message(outcome)]
        else:
            raise AssertionError(f"{outcome}: on the screen, but nothing to hear")
        title = gettext(msgid)
        assert lang == "en" or title != msgid, f"{lang}: {msgid!r} not translated"
        start = title.split("{")[0]  # up to a placeholder ("venter på {branch}")
        assert any(s.startswith(start) for s in said), (outcome, title, said)


@pytest.mark.parametrize("lang", ["nb", "nn", "ar"])
def test_every_sentence_is_translated(lang):
    """Each outcome and message is spoken in the language's own words, not in English."""
    def texts(speaker):
        out = {o: [s.text for s in speaker.scan(RESULTS[o])] for o in SCAN_OUTCOMES}
        out.update({m: [s.text for s in speaker.message(m)] for m in MESSAGES})
        out["slip"] = [s.text for s in speaker.slip(READY, "Bibliotek")]
        return out

    english, own = texts(Speaker("en", private=True)), texts(Speaker(lang, private=True))
    for key, sentences in own.items():
        assert sentences, f"{key}: nothing to say"
        same = [s for s, e in zip(sentences, english[key], strict=True)
                if s == e and not re.fullmatch(r"\w|[\w .-]+\.", s)]  # a letter; a name
        assert not same, f"{lang} {key}: untranslated {same}"


@pytest.mark.parametrize("lang", ["nb", "nn", "en", "ar"])
def test_each_outcome_is_audible_in_each_language(service, lang):
    for outcome in SCAN_OUTCOMES:
        seconds, rms = measure(service.scan_audio(hash((outcome, lang)), RESULTS[outcome],
                                                  lang).result(timeout=30))
        assert 1.5 < seconds < 40, (outcome, lang, seconds)
        assert rms > 0.02, (outcome, lang, rms)
    for key in MESSAGES:
        seconds, rms = measure(service.message_audio(key, lang).result(timeout=30))
        assert 0.5 < seconds < 20 and rms > 0.02, (key, lang, seconds, rms)
    seconds, rms = measure(service.slip_audio(7, READY, lang, "Bibliotek").result(timeout=30))
    assert seconds > 5 and rms > 0.02


def test_the_engine_gets_the_translated_sentence_with_slot_and_code_spelled():
    service = SpeechService("headphones", 175, "nb")  # nothing cached yet
    log: list[tuple[str, str]] = []
    service.sent = lambda voice, ssml: log.append((voice, ssml))
    try:
        service.scan_audio(101, READY, "nn").result(timeout=30)
    finally:
        service.shutdown()
    sent = " ".join(ssml for _voice, ssml in log)
    assert {voice for voice, _ in log} == {"nb"}  # nynorsk read by bokmål
    assert "Bestillinga di er klar." in sent  # the nynorsk catalogue's words
    docs = [re.sub(r"</?speak[^>]*>", "", ssml) for _voice, ssml in log]
    # "A 4", not "A minus null fire": the shelf spelled, then the number
    at = docs.index("Gå til hylleplass")
    assert docs[at + 1:at + 3] == ['<say-as interpret-as="characters">A</say-as>', "4"]
    # the code letter by letter, one clip each
    at = docs.index("Hentekode")
    chars = [re.fullmatch(r'<say-as interpret-as="characters">(\w)</say-as>', d)
             for d in docs[at + 1:at + 6]]
    assert [m.group(1) for m in chars if m] == ["K", "R", "4", "7", "2"]
    assert "måndag 7 desember" in sent
    assert "Kari Nordmann" in sent and "Sult" in sent  # headphones: names and titles


def test_a_speaker_says_slot_and_code_but_no_name_or_title():
    speaker = SpeechService("speaker", 175, "nb")
    sent: list[str] = []
    speaker.sent = lambda _voice, ssml: sent.append(ssml)
    try:
        speaker.scan_audio(1, READY, "en").result(timeout=30)
    finally:
        speaker.shutdown()
    words = " ".join(sent)
    assert "Pickup code" in words and 'characters">K<' in words
    assert "Kari" not in words and "Sult" not in words


def test_a_language_with_no_voice_falls_back_and_says_so(caplog):
    svc = SpeechService("speaker", 175, "nb")
    try:
        assert svc.language("so") == "nb"
        assert svc.language("en") == "en"
    finally:
        svc.shutdown()
    assert "no espeak-ng voice for so; speaking nb instead" in caplog.text
    neither = SpeechService("speaker", 175, "so")  # not even the station's language
    try:
        assert neither.language("so") == "en"
        assert measure(neither.scan_audio(1, READY, "so").result(timeout=30))[1] > 0.02
    finally:
        neither.shutdown()
    assert Espeak().voice_for("nn") == "nb"


BIG = {**READY, "pickups": [{**READY["pickups"][0], "items": 200,
                              "titles": [f"Tittel {i} " + "og så videre " * 12
                                         for i in range(200)]}]}


@pytest.mark.parametrize("lang, more, bags", [
    ("nb", "Og 197 til.", "6 poser til er klare. Skjermen viser hvor."),
    ("nn", "Og 197 til.", "6 posar til er klare. Skjermen viser kvar."),
    ("en", "And 197 more.", "6 more bags are ready. The screen shows where.")])
def test_a_big_order_says_a_few_titles_and_how_many_more(lang, more, bags):
    said = [s.text for s in Speaker(lang, private=True).scan(BIG)]
    titles = next(t for t in said if "Tittel 0" in t)
    assert "Tittel 2" in titles and "Tittel 3" not in " ".join(said)
    assert more in said and len(titles) < 4 * speech_sentences.MAX_TITLE_CHARS
    many = {**READY, "pickups": [{**READY["pickups"][0], "slot": f"A-{i}"} for i in range(10)]}
    said = [s.text for s in Speaker(lang).scan(many)]
    assert bags in said and sum("A" in t for t in said) <= speech_sentences.MAX_SLOTS * 2


def test_audio_has_a_size_and_length_cap(service):
    long = "Dette er en lang setning om bøker og bibliotek. " * 55  # about three minutes
    audio = service.render([Sentence(long, escape(long), False)], "nb")
    assert audio.seconds <= 60 and len(audio.frames) < 3 * 1024 * 1024
    with pytest.raises(SpeechError, match="too long to speak"):
        service.render([Sentence(long * 2, escape(long * 2), False)], "nb")
    big = measure(service.scan_audio("big", BIG, "nb").result(timeout=60))
    assert big[0] <= 60 and big[1] > 0.02


class GatedEspeak(Espeak):
    """The real espeak-ng, started only once the gate opens (a busy or slow machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def synthesize(self, *args, **kwargs):
        self.gate.wait(60)
        return super().synthesize(*args, **kwargs)


def test_waiting_audio_never_holds_request_threads(app, live_server):
    service = app.extensions["speech"]
    service.engine = engine_ = GatedEspeak()
    scans, waiters = 14, 4  # the service queues 8 answers; 4 request threads may wait
    events = []
    for i in range(scans):  # each scan's hook queues its audio; past max_queue none is queued
        request = urllib.request.Request(f"{live_server}/kiosk/scan", method="POST",
                                         data=json.dumps({"code": f"N9{i:08d}"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200  # the scan is answered whatever speech is doing
            events.append(json.loads(answer.read())["event_id"])
    answers: list[tuple[int, str, str | None, bool]] = []
    arrived = threading.Condition()

    def fetch(event: int) -> None:
        try:
            with urllib.request.urlopen(f"{live_server}/kiosk/speech/scan/{event}.wav?lang=nb",
                                        timeout=60) as got:
                found = (got.status, "", None, engine_.gate.is_set())
        except urllib.error.HTTPError as exc:
            found = (exc.code, json.loads(exc.read())["error"], exc.headers["Retry-After"],
                     engine_.gate.is_set())
        with arrived:
            answers.append(found)
            arrived.notify_all()

    threads = [threading.Thread(target=fetch, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    with arrived:  # all but the few allowed to wait are answered while nothing is spoken
        arrived.wait_for(lambda: len(answers) >= scans - waiters, 30)
    engine_.gate.set()
    for thread in threads:
        thread.join(timeout=60)
    early = [a for a in answers if not a[3]]
    assert len(early) >= scans - waiters
    assert {a[:3] for a in early} == {(503, "speech busy", "1")}
    assert {a[0] for a in answers if a[3]} <= {200}


def test_tones_are_distinct_and_short():
    svc = SpeechService("speaker", 175, "nb")
    ok, fail = svc.tone_wav("ok"), svc.tone_wav("fail")
    svc.shutdown()
    assert ok != fail
    for wav in (ok, fail):
        seconds, rms = measure(wav)
        assert 0.1 < seconds < 0.6 and rms > 0.05


# --- the station: configuration, HTTP, check-config, speech-test -------------------------

@pytest.fixture
def config_overrides():
    return {"kiosk": {"speech": "speaker", "rate_limit": "off"}}


def test_configuration_is_checked():
    with pytest.raises(config.ConfigError) as info:
        config.parse({"kiosk": {"speech": "loud", "speech_volume": 0, "speech_rate": 1000}},
                     source="t.toml")
    text = "\n".join(info.value.problems)
    assert "kiosk.speech: must be one of off, speaker, headphones" in text
    assert "kiosk.speech_volume" in text and "kiosk.speech_rate" in text
    assert config.parse({}).kiosk.speech == "off"


def test_a_scan_answers_at_once_and_its_audio_follows(client, session, station):
    make_order(session, card=CARD, slot="A-3", station=station)
    answer = client.post("/kiosk/scan", json={"code": CARD}).get_json()
    assert answer["outcome"] == "ready"  # the answer is the same as without speech
    # the scan hook started its audio in the screen's language before the page asked
    assert ("scan", answer["event_id"], "nb") in client.application.extensions["speech"]._entries
    response = client.get(f"/kiosk/speech/scan/{answer['event_id']}.wav?lang=nn")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "no-store"
    seconds, rms = measure(response.data)
    assert seconds > 3 and rms > 0.02
    page = client.get("/").get_data(as_text=True)
    assert 'id="speech-data"' in page and "js/speech.js" in page


def test_bad_speech_requests_are_4xx(client):
    assert client.get("/kiosk/speech/scan/999999.wav?lang=nb").status_code == 404
    assert client.get("/kiosk/speech/scan/99999999999999999999999.wav?lang=nb").status_code == 404
    assert client.get("/kiosk/speech/scan/a%3Cb.wav?lang=nb").status_code == 404
    event = client.post("/kiosk/scan", json={"code": "x"}).get_json()["event_id"]
    assert client.get(f"/kiosk/speech/scan/{event}.wav?lang=xx").status_code == 400
    assert client.get(f"/kiosk/speech/scan/{event}.wav").status_code == 400
    assert client.get(f"/kiosk/speech/slip/{event}.wav?lang=nb").status_code == 404
    bad_lang = client.get(f"/kiosk/speech/slip/{event}.wav?lang=xx")
    assert bad_lang.status_code == 400
    assert bad_lang.get_json()["detail"] == "The lang parameter must be one of nb, nn, en, ar"
    assert client.get("/kiosk/speech/message/nope.wav?lang=nb").status_code == 404
    assert client.get("/kiosk/speech/tone/loud.wav").status_code == 404
    assert client.get("/kiosk/speech/message/busy.wav?lang=en").status_code == 200


def test_speech_off_leaves_the_screen_as_it_was(make_settings):
    from kiosk import create_app
    from kiosk.extensions import db

    app = create_app(make_settings({}), {"TESTING": True})
    client = app.test_client()
    try:
        page = client.get("/").get_data(as_text=True)
        assert "speech" not in page
        assert client.get("/kiosk/speech/tone/ok.wav").status_code == 404
        assert "speech" not in app.extensions
    finally:
        with app.app_context():
            db.engine.dispose()


def test_check_config_names_the_voices(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text('[station]\nlanguage = "so"\n[kiosk]\nspeech = "headphones"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 0, result.output
    assert "speech headphones (volume 80 %, rate 150 words a minute)" in result.output
    assert "Warning: No espeak-ng voice for so" in result.output
    assert "speech nn: read by the nb voice" in result.output


def test_speech_test_writes_a_sample(tmp_path):
    out = tmp_path / "sample.wav"
    result = CliRunner().invoke(cli, ["speech-test", "--lang", "nn", "--out", str(out),
                                      "Hylleplass A 4"])
    assert result.exit_code == 0, result.output
    seconds, rms = measure(out.read_bytes())
    assert seconds > 0.5 and rms > 0.02
    bad = CliRunner().invoke(cli, ["speech-test", "--out", str(tmp_path / "no" / "x.wav"),
                                   "hei"])
    assert bad.exit_code == 1 and "Cannot write" in bad.output
    assert CliRunner().invoke(cli, ["speech-test", "--lang", "xx", "hei"]).exit_code == 2


def test_the_example_configuration_documents_speech():
    text = (Path(__file__).parent.parent / "station_config/example.toml").read_text()
    assert json.dumps("off") in text and "speech_volume" in text and "speech_rate" in text
