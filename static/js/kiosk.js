/* The patron screen: keyboard-wedge capture, live scans (SSE), results, offers, idle reset,
 * staff mode by staff card + PIN. Plain JavaScript, no build step. Every text shown comes
 * translated from the page (#kiosk-data); data from the server is only ever set as text,
 * never as markup. <html data-results-shown>, data-scan-answers and data-live-scans count
 * result screens, answers to this page's scans and live events, so tests can tell that a
 * scan arriving both ways was shown once.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("kiosk-data").textContent);
  var t = cfg.t;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // A wedge scanner types a character every few ms; people need 100 ms or more. A busy PC
  // delays a key now and then, so a scan is judged by the mean gap between its characters;
  // a pause of SCAN_BREAK_MS starts a new sequence.
  var SCAN_MEAN_GAP_MS = 50;
  var SCAN_BREAK_MS = 250;
  var SCAN_MIN_LENGTH = 6;
  var SCAN_MAX_LENGTH = 256;
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  var idleEl = document.getElementById("idle");
  var resultEl = document.getElementById("result");
  var root = document.documentElement;
  root.dataset.resultsShown = "0";
  root.dataset.liveScans = "0";
  root.dataset.scanAnswers = "0";

  // Integrations on the page (speech.js) follow the screen by these events on document:
  // kiosk:scan (a scan is on its way), kiosk:result (its answer), kiosk:idle.
  function tell(name, detail) {
    document.dispatchEvent(new CustomEvent("kiosk:" + name, {detail: detail || {}}));
  }

  function count(name) {
    root.dataset[name] = String(Number(root.dataset[name] || 0) + 1);
  }

  // --- small helpers ---------------------------------------------------------------

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "hidden") node.hidden = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) {
      if (arguments[i]) node.appendChild(arguments[i]);
    }
    return node;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return key in values ? String(values[key]) : whole;
    });
  }

  function plural(kind, n) {
    var table = cfg.plurals[kind];
    if (n < table.length) return table[n];
    return table[table.length - 1].replace(/\d+/, String(n));
  }

  function formatDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!m) return "";
    var date = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    try {
      return new Intl.DateTimeFormat(cfg.lang, {weekday: "long", day: "numeric",
                                                month: "long"}).format(date);
    } catch (e) {
      return iso;
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": csrf},
      body: JSON.stringify(body),
      credentials: "same-origin"
    });
  }

  function readJson(response) {
    return response.json().catch(function () { return {}; });
  }

  // --- keyboard-wedge capture ------------------------------------------------------

  var wedge = {buffer: "", first: 0, last: -Infinity};

  function onKeyDown(ev) {
    extendTime();
    lastActivity = performance.now();
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (ev.target && ev.target.tagName === "INPUT") return;  // the PIN field types for itself
    var now = ev.timeStamp || performance.now();
    var gap = now - wedge.last;
    if (ev.key === "Enter") {
      var code = wedge.buffer;
      var meanGap = (wedge.last - wedge.first) / Math.max(1, code.length - 1);
      wedge.buffer = "";
      wedge.last = -Infinity;
      if (code.length >= SCAN_MIN_LENGTH && gap < SCAN_BREAK_MS &&
          meanGap < SCAN_MEAN_GAP_MS) {
        ev.preventDefault();
        ev.stopPropagation();
        submitScan(code);
      }
      return;
    }
    if (ev.repeat) {  // a held-down key repeats fast, but it is a person
      wedge.buffer = "";
      return;
    }
    if (!ev.key || ev.key.length !== 1) return;  // Shift, Tab, arrows: not part of a scan
    if (gap >= SCAN_BREAK_MS) {
      wedge.buffer = "";
      wedge.first = now;
    }
    wedge.buffer = (wedge.buffer + ev.key).slice(-SCAN_MAX_LENGTH);
    wedge.last = now;
  }

  document.addEventListener("keydown", onKeyDown, true);

  function submitScan(code) {
    tell("scan");
    post(cfg.urls.scan, {code: code}).then(function (response) {
      if (response.status === 429) return showMessage("busy");
      if (response.status >= 400 && response.status < 500) {
        return showResult({outcome: "not_recognised"});
      }
      if (!response.ok) return showMessage("error");
      return readJson(response).then(function (data) {
        count("scanAnswers");
        showResult(data);
      });
    }).catch(function () { showMessage("error"); });
  }

  // --- live scans from the server's own scanner ------------------------------------

  var shownIds = [];

  function firstShowing(eventId) {
    if (eventId === undefined || eventId === null) return true;
    if (shownIds.indexOf(eventId) !== -1) return false;
    shownIds.push(eventId);
    if (shownIds.length > 100) shownIds.shift();
    return true;
  }

  if (window.EventSource) {
    var events = new EventSource(cfg.urls.events);
    events.addEventListener("open", function () { document.documentElement.dataset.live = "yes"; });
    events.addEventListener("error", function () { document.documentElement.dataset.live = "no"; });
    events.addEventListener("scan", function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      count("liveScans");
      showResult(data);
    });
  }

  // --- result screens --------------------------------------------------------------

  function showResult(data) {
    if (!data || !firstShowing(data.event_id)) return;
    var outcome = data.outcome;
    if (outcome === "ready" && data.pickups && data.pickups.length) {
      renderReady(data);
    } else if (outcome === "waiting") {
      renderPlain(t.waiting_title, [t.waiting_text, plural("waiting", data.waiting || 1)],
                  "waiting", data);
    } else if (outcome === "pin_required") {
      renderPin(data);
    } else if (outcome === "staff") {
      renderStaffPin(data);
    } else if (outcome === "not_recognised") {
      renderPlain(t.not_recognised_title, [t.not_recognised_text], "not-recognised", data);
    } else if (data.elsewhere && data.elsewhere.length) {  // [kiosk] tell_other_branch
      renderPlain(t.elsewhere_title.replace("{branch}", data.elsewhere.join(", ")),
                  [t.elsewhere_text], "elsewhere", data);
    } else {
      renderPlain(t.nothing_title, [t.nothing_text], "nothing", data);
    }
    tell("result", data);
  }

  function showMessage(kind) {
    renderPlain(t[kind + "_title"], [t[kind + "_text"]], kind, {});
    tell("result", {message: kind});
  }

  function startResult(kind, title) {
    resultEl.replaceChildren();
    resultEl.className = "result result-" + kind;
    count("resultsShown");
    var heading = el("h1", {id: "result-title", tabindex: "-1", text: title});
    resultEl.appendChild(heading);
    return heading;
  }

  function finishResult(heading, data) {
    var extra = notices(data, data.outcome === "pin_required" ? "pin_required" : null);
    if (extra) resultEl.appendChild(extra);
    resultEl.appendChild(footer());
    idleEl.hidden = true;
    resultEl.hidden = false;
    heading.focus();
    armIdle(data.idle_seconds || cfg.idleSeconds);
  }

  function notices(data, skip) {
    var list = el("ul", {"class": "notices"});
    (data.notices || []).forEach(function (code) {
      var text = t.notices[code];  // codes only: the server's words are not the patron's
      if (text && code !== skip) list.appendChild(el("li", {text: text}));
    });
    return list.children.length ? list : null;
  }

  function renderPlain(title, lines, kind, data) {
    var heading = startResult(kind, title);
    lines.forEach(function (line) {
      resultEl.appendChild(el("p", {"class": "lead", text: line}));
    });
    finishResult(heading, data);
  }

  function bySlot(pickups) {
    var slots = [];
    var index = {};
    pickups.forEach(function (p) {
      if (!(p.slot in index)) {
        index[p.slot] = slots.length;
        slots.push({slot: p.slot, items: 0, pickups: [], deadline: null});
      }
      var s = slots[index[p.slot]];
      s.items += p.items || 0;
      s.pickups.push(p);
      if (p.deadline && (!s.deadline || p.deadline < s.deadline)) s.deadline = p.deadline;
    });
    return slots;
  }

  function renderReady(data) {
    var ready = data.pickups.length > 1 ? t.ready_title_many : t.ready_title;
    var title = data.name ? fill(t.hello, {name: data.name}) + " " + ready : ready;
    var heading = startResult("ready", title);
    var slots = bySlot(data.pickups);
    // The number of slots sizes the cards: one slot gets the largest label (see station.css).
    var list = el("ul", {"class": "pickups", "data-slots": String(Math.min(slots.length, 3)),
                         "data-bags": String(Math.min(data.pickups.length, 3))});
    slots.forEach(function (s) { list.appendChild(slotCard(s, data)); });
    // Beside the bags: the shelf wall, and under it the after-pickup offer if there is one.
    var side = el("div", {"class": "result-side"}, shelfWall(slots),
                  data.offer ? afterPickupOffer(data.offer) : null);
    var body = el("div", {"class": "result-body"}, list, side);
    resultEl.appendChild(body);
    if (data.waiting) {
      resultEl.appendChild(el("p", {"class": "more", text: plural("more", data.waiting)}));
    }
    if (cfg.printer && data.event_id !== undefined) resultEl.appendChild(printBox(data));
    finishResult(heading, data);
    fitResult();
  }

  // The result never scrolls: many bags or slots would push "Done" and the last "I have
  // collected" button off the screen, out of a patron's reach. Step by step until the page
  // fits the window: the labels shrink, the offer shrinks and then goes, the titles go, the
  // shelf wall goes (the cards name the slots), the type shrinks (station.css, .fit-1 to 6).
  var FIT_STEPS = 6;

  function overflowing() {
    return root.scrollHeight > window.innerHeight || root.scrollWidth > window.innerWidth;
  }

  function fitResult() {
    for (var step = 1; step <= FIT_STEPS; step++) resultEl.classList.remove("fit-" + step);
    for (step = 1; step <= FIT_STEPS && overflowing(); step++) {
      resultEl.classList.add("fit-" + step);
    }
  }

  // Fitted again when the window or the result's own lines change (a button's answer, the
  // time warning): a line more must not push "Done" off the screen.
  function refit() {
    if (!resultEl.hidden && resultEl.classList.contains("result-ready")) fitResult();
  }

  window.addEventListener("resize", refit);

  function slotCard(s, data) {
    var card = el("li", {"class": "pickup"},
      el("p", {"class": "slot-caption", text: t.go_to_slot}),
      el("p", {"class": "slot", dir: "ltr", translate: "no", text: s.slot}),
      el("p", {"class": "items", text: plural("items", s.items)}));
    if (s.deadline) {
      card.appendChild(el("p", {"class": "deadline",
                                text: fill(t.deadline, {date: formatDate(s.deadline)})}));
    }
    // One row per bag: its pickup code, its titles and its own "I have collected" button, so
    // that several bags in one slot sit side by side instead of stacking off the screen.
    var collect = cfg.selfCollect && data.event_id !== undefined;
    var bags = el("ul", {"class": "bags"});
    s.pickups.forEach(function (p) {
      var bag = el("li", {"class": "bag"},
        el("p", {"class": "code"}, document.createTextNode(t.pickup_code + " "),
           el("strong", {dir: "ltr", translate: "no", text: p.pickup_code})));
      if (p.titles && p.titles.length) {
        var titles = el("ul", {"class": "titles"});
        p.titles.forEach(function (title) { titles.appendChild(el("li", {text: title})); });
        bag.appendChild(titles);
      }
      if (collect) bag.appendChild(collectButton(p, data.event_id, s.pickups.length > 1));
      bags.appendChild(bag);
    });
    card.appendChild(bags);
    return card;
  }

  function shelfWall(slots) {
    if (!cfg.shelves || !cfg.shelves.length) return null;
    var mine = slots.map(function (s) { return s.slot; });
    // The wall stands in the room as it stands: never mirrored for right-to-left text.
    var grid = el("div", {"class": "wall-grid", role: "img", dir: "ltr",
                          "aria-label": fill(t.wall_label, {slots: mine.join(", ")})});
    cfg.shelves.forEach(function (shelf) {
      var cells = el("div", {"class": "shelf-slots"});
      cells.style.setProperty("--columns", String(Math.min(6, shelf.slots.length || 1)));
      shelf.slots.forEach(function (label) {
        var hit = mine.indexOf(label) !== -1;
        cells.appendChild(el("span", {"class": hit ? "cell mine" : "cell", dir: "ltr", translate: "no",
                                      text: hit ? label : label.split("-").pop()}));
      });
      grid.appendChild(el("div", {"class": "shelf"},
                          el("span", {"class": "shelf-name", translate: "no", text: shelf.name}),
                          cells));
    });
    return el("figure", {"class": "wall"}, grid,
              el("figcaption", {text: t.wall_caption}));
  }

  function printBox(data) {
    var status = el("p", {"class": "action-status", role: "status"});
    var button = el("button", {type: "button", "class": "button", text: t.print});
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = t.printing;
      post(cfg.urls.print, {event_id: data.event_id}).then(function (response) {
        status.textContent = response.ok ? t.printed : t.print_unavailable;
        button.disabled = response.ok;
        refit();
      }).catch(function () {
        status.textContent = t.print_unavailable;
        button.disabled = false;
      });
    });
    return el("div", {"class": "actions print"}, button, status);
  }

  function collectButton(pickup, eventId, several) {
    var status = el("p", {"class": "action-status", role: "status"});
    var button = el("button", {type: "button", "class": "button secondary"});
    if (several) {
      // The pickup code stays whole on one line: "I have collected NA-/931" must not happen.
      // One inline span holds the words and the code: a flex button would make each text node
      // its own box and drop the space before the code ("hentetNA-931").
      var words = el("span", {"class": "button-text"});
      t.collect_code.split("{code}").forEach(function (part, i) {
        if (i > 0) {
          words.appendChild(el("span", {"class": "nowrap", dir: "ltr", translate: "no",
                                        text: pickup.pickup_code}));
        }
        if (part) words.appendChild(document.createTextNode(part));
      });
      button.appendChild(words);
    } else {
      button.textContent = t.collect;
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      post(cfg.urls.collect, {event_id: eventId, order_id: pickup.order_id})
        .then(function (response) {
          return readJson(response).then(function (body) {
            var done = response.ok && body.collected !== false;
            var codes = (body.notices || (body.detail && body.detail.notices) || []);
            var notice = codes.map(function (c) { return t.notices[c]; }).filter(Boolean)[0];
            status.textContent = done ? t.collected : (notice || t.collect_failed);
            button.disabled = done;
            refit();
          });
        }).catch(function () {
          status.textContent = t.collect_failed;
          button.disabled = false;
        });
    });
    return el("div", {"class": "actions collect"}, button, status);
  }

  // One PIN keypad for the library system's PIN and the staff card's PIN. send(pin, status)
  // posts the PIN and returns a promise; a failed request says the PIN cannot be checked.
  function pinScreen(kind, title, label, submit, data, send) {
    var heading = startResult(kind, title);
    var input = el("input", {id: "pin", type: "password", inputmode: "numeric",
                             autocomplete: "off", maxlength: "12", pattern: "[0-9]*"});
    var status = el("p", {"class": "action-status", role: "status"});
    var keypad = el("div", {"class": "keypad"});
    "1234567890".split("").forEach(function (digit) {
      var key = el("button", {type: "button", "class": "button secondary", text: digit});
      key.addEventListener("click", function () { input.value = (input.value + digit).slice(0, 12); });
      keypad.appendChild(key);
    });
    var back = el("button", {type: "button", "class": "button secondary",
                             "aria-label": t.pin_delete, text: "⌫"});
    back.addEventListener("click", function () { input.value = input.value.slice(0, -1); });
    keypad.appendChild(back);
    var form = el("form", {"class": "pin-form"},
                  el("label", {"for": "pin", text: label}), input, keypad,
                  el("button", {type: "submit", "class": "button", text: submit}), status);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var pin = input.value;
      input.value = "";
      send(pin, status).catch(function () { status.textContent = t.pin_unavailable; });
    });
    resultEl.appendChild(form);
    finishResult(heading, data);
    input.focus();
  }

  function renderPin(data) {
    pinScreen("pin", t.pin_title, t.pin_label, t.pin_submit, data, function (pin, status) {
      return post(cfg.urls.pin, {event_id: data.event_id, pin: pin}).then(function (response) {
        if (response.ok) return readJson(response).then(showResult);
        status.textContent = response.status === 403 ? t.pin_wrong
          : response.status === 429 ? t.notices.pin_locked : t.pin_unavailable;
      });
    });
  }

  // A staff card was scanned: its PIN switches this screen into staff mode. The card number
  // stays on the server; the PIN goes with the scan's event id.
  function renderStaffPin(data) {
    pinScreen("staff", t.staff_title, t.pin_label, t.staff_submit, data, function (pin, status) {
      return post(cfg.urls.staffLogin, {event_id: data.event_id, pin: pin})
        .then(function (response) {
          if (response.ok) {
            return readJson(response).then(function (body) {
              window.location.assign(body.redirect || cfg.urls.staff);
            });
          }
          status.textContent = response.status === 401 ? t.pin_wrong
            : response.status === 429 ? t.staff_locked : t.pin_unavailable;
        });
    });
  }

  // "Did you know?" heads the offer (h2 under the result's h1; the offer's title is an h3).
  function afterPickupOffer(offer) {
    var box = el("aside", {"class": "after-offer", "aria-labelledby": "after-offer-title"});
    box.appendChild(el("h2", {id: "after-offer-title", "class": "offer-kind",
                              text: t.offer_after}));
    box.appendChild(offerContent(offer, true));
    return box;
  }

  // --- back to idle: a countdown, "More time", any key or touch extends -------------

  var timer = {deadline: 0, ms: 0, handle: null, warned: false};
  var countdownEl = null;
  var warningEl = null;

  function footer() {
    countdownEl = el("p", {"class": "countdown"});
    warningEl = el("p", {"class": "time-warning", role: "alert", hidden: true});
    var more = el("button", {type: "button", "class": "button secondary", text: t.more_time});
    more.addEventListener("click", extendTime);
    var done = el("button", {type: "button", "class": "button", text: t.done});
    done.addEventListener("click", goIdle);
    return el("div", {"class": "result-footer"}, warningEl, countdownEl,
              el("div", {"class": "buttons"}, more, done));
  }

  function armIdle(seconds) {
    timer.ms = Math.max(1, Number(seconds) || 20) * 1000;
    timer.deadline = performance.now() + timer.ms;
    timer.warned = false;
    window.clearInterval(timer.handle);
    timer.handle = window.setInterval(tick, 200);
    tick();
  }

  function extendTime() {
    if (resultEl.hidden || !timer.handle) return;
    timer.deadline = performance.now() + timer.ms;
    timer.warned = false;
    if (warningEl) warningEl.hidden = true;
    tick();
  }

  function tick() {
    var left = timer.deadline - performance.now();
    if (left <= 0) return goIdle();
    var seconds = Math.ceil(left / 1000);
    countdownEl.textContent = plural("seconds", seconds);
    var warnMs = Math.min(10000, timer.ms / 2);
    if (left <= warnMs && !timer.warned) {
      timer.warned = true;
      warningEl.textContent = t.time_warning;
      warningEl.hidden = false;
      refit();
    }
  }

  function goIdle() {
    window.clearInterval(timer.handle);
    timer.handle = null;
    resultEl.replaceChildren();
    resultEl.hidden = true;
    resultEl.className = "result";
    countdownEl = warningEl = null;
    wedge.buffer = "";
    idleEl.hidden = false;
    tell("idle");
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    if (resetLanguage()) return;
    loadOffers();
  }

  // A public screen must not keep the last patron's language: going idle brings the
  // station's own back (the server forgets the choice kept in the session; the page reloads).
  // Left alone on the idle screen in another language, it goes back after a while too.
  var lastActivity = performance.now();

  function resetLanguage() {
    if (!cfg.defaultLang || cfg.lang === cfg.defaultLang) return false;
    if (root.dataset.leaving) return true;
    root.dataset.leaving = "yes";
    var reload = function () { window.location.replace(cfg.urls.screen); };
    post(cfg.urls.languageReset, {}).then(reload, reload);
    return true;
  }

  window.setInterval(function () {
    var quietMs = (Number(cfg.idleSeconds) || 20) * 3000;
    if (idleEl.hidden || performance.now() - lastActivity < quietMs) return;
    resetLanguage();
  }, 1000);

  document.addEventListener("pointerdown", function () {
    lastActivity = performance.now();
    extendTime();
  }, true);

  // --- digital offers on the idle screen -------------------------------------------

  var offers = {list: [], index: 0, handle: null, paused: reducedMotion, intervalMs: 12000};
  var offersEl = document.getElementById("offers");
  var slideEl = document.getElementById("offer-slide");
  var toggleEl = document.getElementById("offer-toggle");
  var nextEl = document.getElementById("offer-next");
  var countEl = document.getElementById("offer-count");

  function offerContent(offer, brief) {
    var box = el("div", {"class": "offer"});
    var text = el("div", {"class": "offer-text"});
    if (offer.kind && !brief) {
      text.appendChild(el("p", {"class": "offer-kind",
                                text: t.offer_kinds[offer.kind] || t.offer_kinds.other}));
    }
    // The offer's own words may be in another script than the page: let them set direction.
    if (offer.language) text.setAttribute("lang", offer.language);
    text.appendChild(el("h3", {dir: "auto", text: offer.title || ""}));
    // An event's next meeting, written on the server in the screen's language and local time.
    if (offer.when_text) text.appendChild(el("p", {"class": "offer-when", text: offer.when_text}));
    if (offer.text) text.appendChild(el("p", {dir: "auto", text: offer.text}));
    if (offer.url) text.appendChild(el("p", {"class": "offer-url", dir: "ltr", text: offer.url}));
    box.appendChild(text);
    if (offer.image) box.appendChild(el("img", {"class": "offer-image", src: offer.image, alt: ""}));
    if (offer.qr_svg) {
      var src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(offer.qr_svg);
      box.appendChild(el("figure", {"class": "offer-qr"},
        el("img", {src: src, alt: fill(t.offer_qr, {url: offer.url || ""})}),
        el("figcaption", {text: t.offer_phone})));
    }
    return box;
  }

  function showOffer(i, announceIt) {
    if (!offers.list.length) return;
    offers.index = (i + offers.list.length) % offers.list.length;
    slideEl.setAttribute("aria-live", announceIt ? "polite" : "off");
    slideEl.replaceChildren(offerContent(offers.list[offers.index]));
    countEl.textContent = fill(t.offer_count, {n: offers.index + 1, total: offers.list.length});
  }

  function scheduleOffers() {
    window.clearInterval(offers.handle);
    offers.handle = null;
    if (!offers.paused && offers.list.length > 1) {
      offers.handle = window.setInterval(function () {
        if (!idleEl.hidden) showOffer(offers.index + 1, false);
      }, offers.intervalMs);
    }
    toggleEl.textContent = offers.paused ? t.offers_play : t.offers_pause;
  }

  function renderOffers(data) {
    var list = (data && Array.isArray(data.offers)) ? data.offers : [];
    offers.list = list.filter(function (o) { return o && o.title; });
    if (data && data.interval_s > 0) offers.intervalMs = data.interval_s * 1000;
    offersEl.hidden = !offers.list.length;
    document.getElementById("offer-controls").hidden = offers.list.length < 2;
    if (offers.index >= offers.list.length) offers.index = 0;
    showOffer(offers.index, false);
    scheduleOffers();
  }

  function loadOffers() {
    fetch(cfg.urls.offers, {headers: {"Accept": "application/json"}}).then(function (response) {
      if (response.status === 404) return renderOffers(null);
      if (!response.ok) return null;  // keep showing the last good set
      return response.json().then(renderOffers);
    }).catch(function () { /* keep the last good set */ });
  }

  toggleEl.addEventListener("click", function () {
    offers.paused = !offers.paused;
    scheduleOffers();
  });
  nextEl.addEventListener("click", function () {
    showOffer(offers.index + 1, true);
    scheduleOffers();
  });

  loadOffers();
  window.setInterval(function () { if (!idleEl.hidden) loadOffers(); }, 5 * 60 * 1000);
  document.documentElement.classList.add("js-ready");
}());
