// ambient studio: a thin view over the JSON API under /api (every action here is one request).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { options: null, takes: [], notes: {} };

async function api(method, url, body, raw) {
  // the server takes a POST only as JSON or, for an upload, as raw bytes: types no other site can send
  const init = { method, headers: {} };
  if (raw !== undefined) { init.body = raw; init.headers["Content-Type"] = "application/octet-stream"; }
  else {
    if (body !== undefined) init.body = JSON.stringify(body);
    if (method !== "GET") init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || data.detail || `${response.status} ${response.statusText}`);
  return data;
}

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value; o.textContent = label;
  select.appendChild(o);
  return o;
}

// ---- views ---------------------------------------------------------------------------
function showView() {
  const view = location.hash === "#pipeline" ? "pipeline" : "make";
  $("#view-make").hidden = view !== "make";
  $("#view-pipeline").hidden = view !== "pipeline";
  $("#tab-make").classList.toggle("active", view === "make");
  $("#tab-pipeline").classList.toggle("active", view === "pipeline");
  if (view === "pipeline") loadPipeline();
}
window.addEventListener("hashchange", showView);

// ---- jobs: progress by server-sent events ---------------------------------------------
// Every job also shows in the tray (panels.js); `box`, when given, is a second view beside it.
function watchJob(job, box, errorLine) {
  return new Promise((resolve) => {
    refreshTray();
    errorLine.textContent = "";
    if (box) {
      box.hidden = false;
      $(".cancel", box).onclick = () => api("DELETE", `/api/jobs/${job.id}`).catch(() => {});
    }
    const events = new EventSource(`/api/jobs/${job.id}/events`);
    events.onmessage = (e) => {
      const j = JSON.parse(e.data);
      if (box) { $("progress", box).value = j.fraction; $(".message", box).textContent = j.message; }
      if (["done", "failed", "cancelled"].includes(j.state)) {
        events.close();
        if (box) box.hidden = true;
        refreshTray();
        if (j.state === "failed") errorLine.textContent = j.error;

        resolve(j);
      }
    };
  });
}

// ---- make -------------------------------------------------------------------------------
async function loadOptions() {
  const o = state.options = await api("GET", "/api/options");
  const primer = $("#primer");
  primer.innerHTML = "";
  for (const s of o.seeds) option(primer, `seed:${s.name}`, `seed ${s.name} (${s.seconds} s, ${s.notes} notes)`);
  const when = (u) => new Date(u.created * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  for (const u of o.uploads) option(primer, `upload:${u.id}`, `${u.label} (${u.kind}, ${when(u)})`);
  showUploads(o.uploads);
  const model = $("#model");
  model.innerHTML = "";
  for (const m of o.models) option(model, m.id, m.label + (m.validation_loss ? ` (loss ${m.validation_loss.toFixed(3)})` : ""));
  const instrument = $("#instrument");
  instrument.innerHTML = "";
  for (const i of o.instruments) option(instrument, i.name, i.name).title = i.description;
  const scales = $("#scales");
  scales.innerHTML = "";
  for (const s of ["auto", "none", ...o.modes.map((m) => `C ${m}`)]) option(scales, s, s);
  const form = $("#make-form");
  for (const [key, value] of Object.entries(o.defaults)) {
    const field = form.elements[key];
    if (field && value !== null && field.tagName !== "SELECT") field.value = value;
    if (field && field.tagName === "SELECT" && value !== null) field.value = value;
  }
  // what the person chose last time comes back after a reload (a choice no longer offered is left out)
  const kept = JSON.parse(localStorage.getItem(FORM_KEY) || "{}");
  for (const [key, value] of Object.entries(kept)) {
    const field = form.elements[key];
    if (!field || !(key in o.defaults)) continue;
    if (field.tagName === "SELECT" && ![...field.options].some((x) => x.value === value)) continue;
    field.value = value;
  }
}

const FORM_KEY = "ambient.studio.form";
$("#make-form").addEventListener("change", () => {
  const form = $("#make-form"), kept = {};
  for (const key of Object.keys(state.options?.defaults || {})) if (form.elements[key]) kept[key] = form.elements[key].value;
  localStorage.setItem(FORM_KEY, JSON.stringify(kept));
});

function makeRequest() {
  const form = $("#make-form"), body = {};
  for (const key of Object.keys(state.options.defaults)) {
    const field = form.elements[key];
    if (!field) continue;
    const text = String(field.value).trim();
    if (text === "") { body[key] = null; continue; }
    body[key] = field.type === "number" ? Number(text) : text;
  }
  if (body.scale && body.scale.toLowerCase() === "none") body.scale = null;
  return body;
}

async function make(body) {
  try {
    const job = await api("POST", "/api/takes", body);
    const done = await watchJob(job, null, $("#make-error"));
    await loadTakes();
    return done;
  } catch (e) { $("#make-error").textContent = e.message; }
}

$("#make-form").addEventListener("submit", (e) => { e.preventDefault(); make(makeRequest()); });

$("#primer-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  $("#make-error").textContent = "";
  $("#make-status").textContent = `reading ${file.name}…`;      // news, not an error: the plain colour
  try {
    const u = await api("POST", `/api/primers?filename=${encodeURIComponent(file.name)}`, undefined, file);
    await loadOptions();
    $("#primer").value = `upload:${u.id}`;
  } catch (err) { $("#make-error").textContent = err.message; }
  $("#make-status").textContent = "";
  e.target.value = "";
});

// ---- takes -----------------------------------------------------------------------------
async function loadTakes() {
  state.takes = (await api("GET", "/api/takes")).takes;
  const box = $("#takes");
  // every card is built first and the list swapped at once: a list that filled card by card
  // could be read, or clicked, half-built
  const built = await Promise.all(state.takes.map(takeCard));
  box.replaceChildren(...built);
  if (!state.takes.length) {   // an empty studio says what to do first, not nothing at all
    box.innerHTML = `<p class="empty">No takes yet. Choose a primer above (a seed, or upload a MIDI or audio file),
      press <b>Make</b>, and the continuation appears here with a player and its piano roll.</p>`;
  }
  loadStorage();
}

async function takeCard(take) {
  // imported, not cloned: a node cloned inside the template's inert document refuses to load media
  const card = document.importNode($("#take-template").content.firstElementChild, true);
  card.dataset.take = take.id;
  const sameBatch = state.takes.filter((t) => t.batch === take.batch).length > 1;
  card.classList.toggle("batch-mark", sameBatch);
  $(".name", card).value = take.name;
  $(".name", card).onchange = (e) => api("PATCH", `/api/takes/${take.id}`, { name: e.target.value });
  const star = $(".star", card);
  const paintStar = (on) => { star.textContent = on ? "★" : "☆"; star.classList.toggle("on", on); };
  paintStar(take.starred);
  star.onclick = async () => { take.starred = !take.starred; paintStar(take.starred); await api("PATCH", `/api/takes/${take.id}`, { starred: take.starred }); };
  $(".delete", card).onclick = async () => {
    const gone = await api("DELETE", `/api/takes/${take.id}`);
    // the card gives way to a line with Undo: the take waits in the studio's trash
    const note = document.createElement("div");
    note.className = "take deleted";
    note.innerHTML = `<span></span> <button class="undo">Undo</button>`;
    $("span", note).textContent = `Deleted “${take.name}”.`;
    $(".undo", note).onclick = async () => { await api("POST", gone.undo); await loadTakes(); };
    card.replaceWith(note);
  };
  const made = new Date(take.created * 1000);
  const parent = take.parent && state.takes.find((t) => t.id === take.parent);
  $(".meta", card).textContent = `${made.toLocaleDateString()} ${made.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} · ` +
    (take.parent ? `continues ${parent ? parent.name : "a deleted take"}` : take.primer) +
    ` → ${(take.seconds - take.primer_end).toFixed(0)} s new · ` +
    `${take.note_count} notes · ${take.model} · T ${take.settings.temperature} · scale ${take.settings.scale ?? "none"}`;
  const instrument = $(".instrument", card);
  for (const i of state.options.instruments) option(instrument, i.name, i.name);
  instrument.value = take.instrument;
  const audio = $(".player", card);
  // the render it plays from: the WAV, or the FLAC once the studio keeps only FLAC
  const listen = (name, fmt) => { audio.src = `/api/takes/${take.id}/audio/${name}.${fmt}`; };
  if (take.audio[take.instrument]) listen(take.instrument, take.audio[take.instrument]);
  $(".rerender", card).onclick = async () => {
    const job = await api("POST", `/api/takes/${take.id}/render`, { instrument: instrument.value });
    const done = await watchJob(job, null, $("#make-error"));
    if (done.state === "done") {
      take.instrument = instrument.value;
      listen(instrument.value, done.result.path.split(".").pop());
      setLinks();
    }
  };
  // Continue: this take is the primer and the card's instrument plays it; the form is left as it was
  $(".continue", card).onclick = () => make({ ...makeRequest(), primer: `take:${take.id}`, instrument: instrument.value });
  const setLinks = () => {
    for (const a of card.querySelectorAll(".dl")) {
      const fmt = a.dataset.fmt;
      a.href = `/api/takes/${take.id}/download.${fmt}` + (fmt === "mid" ? "" : `?instrument=${instrument.value}`);
      // a download never renders by itself (a GET changes nothing): ask for the render as a job, then fetch it
      a.onclick = fmt === "mid" ? null : async (e) => {
        e.preventDefault();
        const job = await api("POST", `/api/takes/${take.id}/render`, { instrument: instrument.value, format: fmt });
        const done = await watchJob(job, null, $("#make-error"));
        if (done.state === "done") location.href = a.href;
      };
    }
  };
  instrument.onchange = setLinks;
  setLinks();
  const canvas = $(".roll", card), view = { zoom: 1 };
  let detail;
  try {
    detail = await api("GET", `/api/takes/${take.id}`);
  } catch (e) {
    // one take whose notes cannot be read (its MIDI damaged on disk) loses its roll, not the list
    const line = document.createElement("p");
    line.className = "roll-error";
    line.textContent = `No piano roll: ${e.message}`;
    canvas.replaceWith(line);
    $(".zoom", card).remove();
    return card;
  }
  const draw = () => drawRoll(canvas, detail.notes, detail.primer_end, detail.seconds, audio.currentTime,
                              Number.isFinite(audio.duration) ? audio.duration : 0, view.zoom);
  // zoom: 1, 2, 4 or 8 times closer, the view following the playhead (or opening on the primer's end)
  $(".zoom-in", card).onclick = () => { view.zoom = Math.min(8, view.zoom * 2); draw(); };
  $(".zoom-out", card).onclick = () => { view.zoom = Math.max(1, view.zoom / 2); draw(); };
  const follow = () => { draw(); if (!audio.paused) requestAnimationFrame(follow); };
  audio.addEventListener("play", follow);
  audio.addEventListener("seeked", draw);
  audio.addEventListener("loadedmetadata", draw);
  // drawn once the card is in the page and has a width, and again whenever that width changes
  new ResizeObserver(draw).observe(canvas);
  return card;
}

const NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const pitchName = (p) => `${NAMES[p % 12]}${Math.floor(p / 12) - 1}`;

// The piano roll: seconds along the bottom, pitch names up the side, the primer (blue) and
// the continuation (amber) either side of a labelled line, and a playhead over the whole
// audio (the reverb's tail runs past the last note, so the span is the longer of the two).
function drawRoll(canvas, notes, primerEnd, seconds, playhead, audioSeconds, zoom = 1) {
  const ratio = devicePixelRatio || 1;
  const w = canvas.width = (canvas.clientWidth || 640) * ratio;
  const h = canvas.height = (canvas.clientHeight || 200) * ratio;
  const g = canvas.getContext("2d");
  g.fillStyle = "#0c0f15"; g.fillRect(0, 0, w, h);
  const left = 34 * ratio, bottom = 16 * ratio, top = 14 * ratio;
  const whole = Math.max(seconds, audioSeconds || 0, 1e-3), span = whole / zoom;
  const focus = playhead > 0 ? playhead : primerEnd;               // what a zoomed view keeps in sight
  const from = zoom > 1 ? Math.min(Math.max(0, focus - span / 3), whole - span) : 0;
  const x = (t) => left + ((t - from) / span) * (w - left);
  g.font = `${10 * ratio}px system-ui, sans-serif`;
  g.textBaseline = "middle";
  // time axis: a tick every 1, 2, 5, 10, 15, 30 or 60 s, whichever gives about eight
  const step = [1, 2, 5, 10, 15, 30, 60, 120].find((s) => span / s <= 9) || 300;
  g.fillStyle = "#8a93a6"; g.strokeStyle = "rgba(255,255,255,0.07)"; g.textAlign = "center";
  for (let t = Math.ceil(from / step) * step; t <= from + span + 1e-6; t += step) {
    g.beginPath(); g.moveTo(x(t), top); g.lineTo(x(t), h - bottom); g.stroke();
    g.fillText(`${t}s`, Math.min(Math.max(x(t), left + 8 * ratio), w - 12 * ratio), h - bottom / 2);
  }
  canvas.dataset.span = whole.toFixed(2); canvas.dataset.tick = step;
  canvas.dataset.view = `${from.toFixed(2)}-${(from + span).toFixed(2)}`;
  if (!notes.length) { canvas.dataset.drawn = 0; return; }
  const low = Math.min(...notes.map((n) => n[2])) - 1, high = Math.max(...notes.map((n) => n[2])) + 1;
  const row = (h - top - bottom) / (high - low + 1);
  const y = (p) => h - bottom - (p - low + 1) * row;
  // pitch axis: every C (and the lowest and highest note when no C is in range)
  g.textAlign = "right";
  const labels = [];
  for (let p = low; p <= high; p++) if (p % 12 === 0) labels.push(p);
  if (!labels.length) labels.push(low + 1, high - 1);
  for (const p of labels) {
    g.fillStyle = "#8a93a6"; g.fillText(pitchName(p), left - 4 * ratio, y(p) + row / 2);
    g.strokeStyle = "rgba(255,255,255,0.05)"; g.beginPath(); g.moveTo(left, y(p) + row); g.lineTo(w, y(p) + row); g.stroke();
  }
  canvas.dataset.pitches = labels.map(pitchName).join(" ");
  g.save(); g.beginPath(); g.rect(left, 0, w - left, h); g.clip();      // notes before the view stay off the labels
  g.fillStyle = "rgba(111,143,216,0.08)"; g.fillRect(left, top, x(primerEnd) - left, h - top - bottom);
  let drawn = 0;
  for (const [start, end, pitch, velocity] of notes) {
    g.globalAlpha = 0.45 + 0.55 * velocity / 127;
    g.fillStyle = start < primerEnd ? "#6f8fd8" : "#e8b04a";
    g.fillRect(x(start), y(pitch), Math.max(1.5, x(end) - x(start)), Math.max(1.5, row - 0.5));
    drawn++;
  }
  g.globalAlpha = 1;
  g.strokeStyle = "#7fd1b9"; g.beginPath(); g.moveTo(x(primerEnd), top); g.lineTo(x(primerEnd), h - bottom); g.stroke();
  g.fillStyle = "#7fd1b9"; g.textAlign = "right"; g.fillText("primer", x(primerEnd) - 4 * ratio, top / 2 + 1);
  g.textAlign = "left"; g.fillText("continuation", x(primerEnd) + 4 * ratio, top / 2 + 1);
  if (playhead > 0) {
    g.strokeStyle = "#ffffff"; g.beginPath(); g.moveTo(x(playhead), top); g.lineTo(x(playhead), h - bottom); g.stroke();
  }
  g.restore();
  canvas.dataset.drawn = drawn;
  canvas.dataset.playheadX = playhead > 0 ? (x(playhead) / ratio).toFixed(1) : "";
}

loadOptions().then(loadTakes).then(showView).catch((e) => { $("#make-error").textContent = e.message; });
