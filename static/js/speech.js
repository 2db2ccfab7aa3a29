/* Speech output on the patron screen (loaded only with [kiosk] speech on): a tone, then the
 * outcome of each scan in the screen's language, as WAV made on the station (espeak-ng).
 *
 * kiosk.js tells what happens by events on document: "kiosk:scan" (a scan is on its way),
 * "kiosk:result" (detail: the scan's answer, or {message: key}), "kiosk:idle". The status
 * lines under buttons (printed, collected, wrong PIN) are heard by watching them change.
 * Keys (keyboard or keypad): * repeats (on the idle screen: says how to use the station),
 * / pauses and resumes, + and - (or the arrow keys
 * up and down) change the volume; the next patron starts at the configured volume again.
 * Nothing typed into the PIN field is ever spoken or sent here.
 * <html data-speech-requests> counts audio requested, data-speech-volume the volume (%).
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("speech-data").textContent);
  var kiosk = JSON.parse(document.getElementById("kiosk-data").textContent);
  var root = document.documentElement;
  var STEP = 10;
  var MIN_VOLUME = 10;
  var FAILED = ["not_recognised", "busy", "error"];

  function player(id) {
    var audio = document.createElement("audio");
    audio.id = id;
    audio.preload = "auto";
    audio.hidden = true;
    document.body.appendChild(audio);
    return audio;
  }

  var tone = player("speech-tone");
  var voice = player("speech-audio");
  var state = {volume: cfg.volume, token: 0, path: null};
  root.dataset.speechRequests = "0";

  function setVolume(percent) {
    state.volume = Math.max(MIN_VOLUME, Math.min(100, percent));
    tone.volume = voice.volume = state.volume / 100;
    root.dataset.speechVolume = String(state.volume);
  }
  setVolume(cfg.volume);

  function url(path) {
    return cfg.base + path + "?lang=" + encodeURIComponent(cfg.lang);
  }

  function silence(audio) {
    audio.pause();
    audio.removeAttribute("src");
    audio.load();
  }

  function stop() {
    state.token += 1;
    state.path = null;
    silence(tone);
    silence(voice);
  }

  function play(audio) {
    var done = audio.play();
    if (done && done.catch) done.catch(function () { /* interrupted by the next one */ });
  }

  // The words are fetched while the tone plays, and start when it ends.
  function speak(toneKind, path) {
    stop();
    var token = state.token;
    state.path = path;
    voice.src = url(path);
    root.dataset.speechRequests = String(Number(root.dataset.speechRequests) + 1);
    voice.load();
    var next = function () { if (token === state.token) play(voice); };
    tone.onended = next;
    tone.onerror = next;
    tone.src = cfg.base + "tone/" + toneKind + ".wav";
    play(tone);
  }

  function onResult(ev) {
    var data = ev.detail || {};
    if (data.message) return speak(FAILED.indexOf(data.message) !== -1 ? "fail" : "ok",
                                   "message/" + data.message + ".wav");
    if (data.event_id === undefined || data.event_id === null) {
      var key = data.outcome === "not_recognised" ? "not_recognised" : "error";
      return speak("fail", "message/" + key + ".wav");
    }
    speak(data.outcome === "not_recognised" ? "fail" : "ok",
          "scan/" + encodeURIComponent(data.event_id) + ".wav");
    watchStatus(data.event_id);
  }

  // A status line under a button changed: say the same words (looked up by the screen's
  // own text, so what is heard is what is shown). Printing also reads the slip aloud.
  var texts = {};
  ["printed", "print_unavailable", "collected", "collect_failed", "pin_wrong",
   "pin_unavailable", "staff_locked"].forEach(function (key) { texts[kiosk.t[key]] = key; });
  texts[kiosk.t.notices.pin_locked] = "pin_locked";
  var current = {eventId: null};

  function watchStatus(eventId) {
    current.eventId = eventId;
  }

  var observer = new MutationObserver(function (mutations) {
    mutations.forEach(function (m) {
      var node = m.target.nodeType === 3 ? m.target.parentNode : m.target;
      if (!node || !node.getAttribute || node.getAttribute("role") !== "status") return;
      var key = texts[node.textContent];
      if (!key) return;
      if (key === "printed" && current.eventId !== null) {
        speak("ok", "slip/" + encodeURIComponent(current.eventId) + ".wav");
      } else {
        speak(/failed|wrong|locked|unavailable/.test(key) ? "fail" : "ok",
              "message/" + key + ".wav");
      }
    });
  });
  observer.observe(document.getElementById("result"),
                   {subtree: true, childList: true, characterData: true});

  function beep() {
    tone.onended = tone.onerror = null;
    tone.src = cfg.base + "tone/ok.wav";
    play(tone);
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (ev.target && ev.target.tagName === "INPUT") return;  // the PIN: never spoken
    var key = ev.key;
    if (key === "*") {
      if (!state.path) {  // nothing said yet: the idle screen's instructions
        if (!document.getElementById("idle").hidden) speak("ok", "message/idle.wav");
        return;
      }
      voice.currentTime = 0;
      play(voice);
    } else if (key === "/") {
      if (!state.path) return;
      if (voice.paused) play(voice); else voice.pause();
    } else if (key === "+" || key === "ArrowUp" || key === "-" || key === "ArrowDown") {
      setVolume(state.volume + (key === "+" || key === "ArrowUp" ? STEP : -STEP));
      if (voice.paused) beep();  // nothing speaking: a beep at the new volume
    } else {
      return;
    }
    ev.preventDefault();
  }

  document.addEventListener("kiosk:scan", stop);
  document.addEventListener("kiosk:result", onResult);
  document.addEventListener("kiosk:idle", function () {
    stop();
    current.eventId = null;
    setVolume(cfg.volume);  // the next patron starts at the configured volume
  });
  document.addEventListener("keydown", onKey);
  root.dataset.speech = cfg.mode;
}());
