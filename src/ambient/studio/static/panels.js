// ambient studio: what sits around the takes. The job tray (every job running or waiting,
// always in view), the Play forever player, the uploads list and the storage line.
"use strict";

// ---- the job tray: polled while anything runs or waits --------------------------------
const tray = { timer: null, busy: false, again: false };
const KINDS = { make: "Make", render: "Render", pipeline: "Pipeline", storage: "Storage" };

async function refreshTray() {
  if (tray.busy) { tray.again = true; return; }     // one look at a time; a call meanwhile asks for one more
  clearTimeout(tray.timer);
  tray.timer = null;
  tray.busy = true;
  let jobs = [];
  try { jobs = (await api("GET", "/api/jobs")).jobs; } catch { jobs = null; }
  tray.busy = false;
  if (tray.again) { tray.again = false; return refreshTray(); }
  if (jobs === null) { tray.timer = setTimeout(refreshTray, 2000); return; }
  const active = jobs.filter((j) => j.state === "running" || j.state === "queued")
    .sort((a, b) => (a.state === b.state ? a.created - b.created : a.state === "running" ? -1 : 1));
  // rows are kept and updated in place, so a cancel button never moves from under the pointer
  const list = $("#tray-list"), rows = new Map([...list.children].map((li) => [li.dataset.job, li]));
  for (const [id, li] of rows) if (!active.some((j) => j.id === id)) li.remove();
  for (const j of active) {
    let row = rows.get(j.id);
    if (!row) {
      row = document.createElement("li");
      row.dataset.job = j.id;
      row.innerHTML = `<span class="what"></span><progress max="1"></progress><span class="message"></span>` +
                      `<button class="cancel" title="Cancel">✕</button>`;
      $(".what", row).textContent = `${KINDS[j.kind] || j.kind}: ${j.label}`;
      $(".cancel", row).onclick = () => api("DELETE", `/api/jobs/${j.id}`).then(refreshTray).catch(() => {});
    }
    row.className = j.state;
    $("progress", row).value = j.state === "running" ? j.fraction : 0;
    $(".message", row).textContent = j.message;          // a waiting job says how many are ahead of it
    list.appendChild(row);                               // in order: running first, then by arrival
  }
  $("#tray").hidden = !active.length;
  $("#tray-count").textContent = active.length === 1 ? "1 job" : `${active.length} jobs`;
  $("#make").textContent = active.some((j) => j.kind === "make") ? "Make (queues)" : "Make";
  if (active.length) tray.timer = setTimeout(refreshTray, 600);
}

// ---- Play forever: a player with its volume and what it is playing ----------------------
$("#forever").addEventListener("click", () => {
  const player = $("#forever-player"), button = $("#forever"), box = $("#forever-box");
  if (!player.paused || player.src) {
    player.pause(); player.removeAttribute("src"); player.load();
    button.textContent = "Play forever"; box.hidden = true;
    return;
  }
  const r = makeRequest();
  const query = new URLSearchParams({ primer: r.primer, model: r.model, instrument: r.instrument, seed: r.seed ?? 0 });
  if (r.scale) query.set("scale", r.scale);
  player.volume = Number($("#forever-volume").value);
  player.src = `/api/stream?${query}`;
  const primer = $("#primer").selectedOptions[0]?.textContent.replace(/ \(.*/, "") || r.primer;
  $("#forever-what").textContent = `Playing forever from ${primer} through ${r.instrument}, seed ${r.seed ?? 0}`;
  $("#forever-time").textContent = "starting…";
  box.hidden = false;
  player.play().then(() => { button.textContent = "Stop"; })
    .catch((e) => { box.hidden = true; $("#make-error").textContent = e.message; });
});
$("#forever-volume").addEventListener("input", (e) => { $("#forever-player").volume = Number(e.target.value); });
$("#forever-player").addEventListener("timeupdate", (e) => {   // the sign of life: time heard so far
  const t = Math.floor(e.target.currentTime);
  $("#forever-time").textContent = `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")} heard`;
});

// ---- uploads: listed with their dates, each deletable ------------------------------------
function showUploads(uploads) {
  const list = $("#uploads ul");
  list.replaceChildren();
  $("#uploads").hidden = !uploads.length;
  $("#uploads summary").textContent = `Your uploads (${uploads.length})`;
  for (const u of uploads) {
    const made = new Date(u.created * 1000);
    const li = document.createElement("li");
    li.dataset.upload = u.id;
    li.innerHTML = `<span></span><button class="delete" title="Delete this upload">✕</button>`;
    $("span", li).textContent = `${u.label} · ${u.kind} · ${u.notes} notes · ` +
      `${made.toLocaleDateString()} ${made.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    $(".delete", li).onclick = async () => {
      if (!confirm(`Delete the upload “${u.label}”? Takes made from it keep their notes.`)) return;
      await api("DELETE", `/api/primers/${u.id}`);
      await loadOptions();
    };
    list.appendChild(li);
  }
}

// ---- storage: what the takes take on disk, and keeping only FLAC --------------------------
const megabytes = (n) => `${(n / 1048576).toFixed(n < 10485760 ? 1 : 0)} MB`;

async function loadStorage() {
  const s = await api("GET", "/api/storage");
  const renders = Object.entries(s.renders).filter(([, n]) => n).map(([f, n]) => `${megabytes(n)} ${f.toUpperCase()}`);
  $("#storage-line").textContent = `The studio holds ${megabytes(s.bytes)}` +
    (renders.length ? ` (renders: ${renders.join(", ")})` : "") + (s.keep === "flac" ? "; new renders are FLAC." : ".");
  $("#keep-flac").hidden = !s.renders.wav;                  // nothing to shrink yet, or nothing left
}

$("#keep-flac").onclick = async () => {
  try {
    const job = await api("POST", "/api/storage/flac", {});
    await watchJob(job, null, $("#make-error"));
    await loadTakes();
  } catch (e) { $("#make-error").textContent = e.message; }
};
refreshTray();   // a job started before a reload shows at once
