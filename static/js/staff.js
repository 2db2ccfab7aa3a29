/* Staff pages: scanner-friendly fields, posts without reloading, loud warnings. */
(function () {
  "use strict";

  let audio = null;

  /* Play a short tone for a good scan, a loud two-tone alarm for a refused one (WebAudio). */
  function beep(kind) {
    document.body.dataset.lastBeep = kind;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      const tones = kind === "error" ? [880, 440, 880, 440] : [1320];
      tones.forEach(function (freq, i) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = kind === "error" ? "square" : "sine";
        osc.frequency.value = freq;
        gain.gain.value = kind === "error" ? 0.4 : 0.1;
        osc.connect(gain);
        gain.connect(audio.destination);
        const t = audio.currentTime + i * 0.16;
        osc.start(t);
        osc.stop(t + 0.14);
      });
    } catch (e) { /* no sound device: the red message still shows */ }
  }

  function show(form, ok, message) {
    let box = form.nextElementSibling;
    if (!box || !box.classList.contains("scan-result")) { box = document.querySelector(".scan-result"); }
    if (!box) { return; }
    // Only the latest outcome shows: the last scan's message, flashed on this page after its
    // reload, or an error the page came with, must not stand beside a new answer.
    document.querySelectorAll(".flashes, .scan-result").forEach(function (old) {
      if (old !== box) { old.hidden = true; }
    });
    box.hidden = false;
    box.textContent = message;
    box.className = "scan-result " + (ok ? "ok" : "error");
    document.body.classList.remove("alarm");
    if (!ok) { void document.body.offsetWidth; document.body.classList.add("alarm"); }
  }

  /* An order file over the upload limit is refused here, in the page's language, before it
     is sent: a body past the web server's own limit would get the server's English 413. */
  document.querySelectorAll("form[data-max-bytes]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      const input = form.querySelector('input[type="file"]');
      const file = input && input.files && input.files[0];
      if (file && file.size > Number(form.dataset.maxBytes)) {
        event.preventDefault();
        show(form, false, form.dataset.tooLarge);
        beep("error");
      }
    });
  });

  function markPacked(barcode, left) {
    document.querySelectorAll("[data-item]").forEach(function (li) {
      if (li.dataset.item === barcode) { li.classList.remove("missing"); li.classList.add("packed"); }
    });
    const counter = document.getElementById("left");
    if (counter && typeof left === "number") {
      counter.textContent = String(left);
      counter.dataset.left = String(left);
      const packed = document.getElementById("packed");
      if (packed && left === 0) { packed.classList.add("ready"); }
    }
  }

  /* The order's badge follows its status (the first item scanned starts the packing). */
  function showStatus(status, name) {
    const badge = document.querySelector("h1 .badge");
    if (!badge || !name) { return; }
    badge.className = "badge status-" + status;
    badge.dataset.status = status;
    badge.textContent = name;
  }

  async function send(form, body) {
    let data;
    try {
      const resp = await fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-Requested-With": "fetch", "Accept": "application/json"},
      });
      if (resp.status === 401) {
        location.assign("/staff/login?timeout=1&next=" + encodeURIComponent(location.pathname));
        return;
      }
      const type = resp.headers.get("Content-Type") || "";
      data = type.indexOf("json") >= 0 ? await resp.json()
        : {ok: false, message: (document.body.dataset.msgRefused || "").replace(
          "{status}", String(resp.status))};
    } catch (e) {
      data = {ok: false, message: document.body.dataset.msgNoAnswer || ""};
    }
    show(form, data.ok, data.message || "");
    beep(data.ok ? "ok" : "error");
    if (data.ok && data.barcode) { markPacked(data.barcode, data.left); }
    if (data.order_status) { showStatus(data.order_status, data.status_name); }
    if (data.redirect) {
      leavingFor = new URL(data.redirect, location.href).href;
      location.assign(data.redirect);
    }
  }

  /* Scans are posted one after another, in the order they were typed. A scan answered with
     a redirect sends the page on; scans typed before the next page is up (a scanner is
     quicker than a busy station) belong to that page, not to this page's form: they are
     kept in sessionStorage and posted from the next page, still in order. */
  const PENDING = "kiosk-staff-pending-scans";
  const PENDING_MAX_AGE_MS = 60000;
  let leavingFor = null;
  let queue = Promise.resolve();

  function keepForNextPage(code) {
    try {
      let pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
      if (!pending || pending.to !== leavingFor) { pending = {to: leavingFor, codes: []}; }
      pending.at = Date.now();
      pending.codes.push(code);
      sessionStorage.setItem(PENDING, JSON.stringify(pending));
    } catch (e) { /* no session storage: the scan is lost, as without this */ }
  }

  function enqueue(form, body, code) {
    queue = queue.then(function () {
      if (leavingFor !== null && code !== null) { keepForNextPage(code); return undefined; }
      return send(form, body);
    });
  }

  document.addEventListener("submit", function (ev) {
    const form = ev.target;
    if (!form.matches("form[data-fetch]") || !window.fetch) { return; }
    ev.preventDefault();
    const body = new FormData(form);
    const input = form.querySelector("[data-scan-input]");
    const code = input ? input.value : null;
    if (input) { input.value = ""; input.focus(); }
    enqueue(form, body, code);
  });

  /* Scans kept by the page before this one, if it was sending us here. */
  (function postKeptScans() {
    let pending = null;
    try {
      pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
      sessionStorage.removeItem(PENDING);
    } catch (e) { return; }
    if (!pending || pending.to !== location.href || !Array.isArray(pending.codes) ||
        !(Date.now() - pending.at < PENDING_MAX_AGE_MS) || !window.fetch) { return; }
    const input = document.querySelector("form[data-fetch] [data-scan-input]");
    if (!input) { return; }
    pending.codes.forEach(function (code) {
      const body = new FormData(input.form);
      body.set(input.name, code);
      enqueue(input.form, body, code);
    });
  }());

  /* A wedge scanner types wherever the focus is: keep it on the scan field. */
  document.addEventListener("keydown", function (ev) {
    const active = document.activeElement;
    if (active && active !== document.body) { return; }
    const input = document.querySelector("[data-scan-input]");
    if (input && ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey && !ev.altKey) { input.focus(); }
  });

  if (document.body.dataset.autoprint) { window.addEventListener("load", function () { window.print(); }); }
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
}());

/* Import progress: ask the station every half second until the import has ended. */
(function () {
  "use strict";
  const box = document.getElementById("import-progress");
  if (!box || box.dataset.state !== "running") { return; }
  const bar = box.querySelector("progress");
  const count = box.querySelector(".count");
  async function poll() {
    try {
      const data = await (await fetch(box.dataset.url, {
        credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})).json();
      bar.max = data.total || 1;
      bar.value = data.done;
      count.textContent = data.done + " / " + (data.total || "?");
      if (data.state !== "running") { location.reload(); return; }
    } catch (e) { /* try again */ }
    setTimeout(poll, 500);
  }
  poll();
}());
