// ambient studio: the live desk. The stream plays to a MIDI port or this computer's sound card,
// and while it plays the form's Temperature, Density, Scale and Instrument turn it (/api/live).
"use strict";

const live = { playing: false };

async function loadLive() {
  const desk = await api("GET", "/api/live"), to = $("#live-to"), chosen = to.value;
  to.replaceChildren();
  if (desk.sound_card) option(to, "play", "this computer");
  if (!desk.midi) {
    option(to, "midi:virtual", "new MIDI port ambient:out");
    for (const port of desk.ports) option(to, `midi:${port}`, `MIDI: ${port}`);
  }
  if (!to.options.length) option(to, "", "nowhere to play").disabled = true;
  if ([...to.options].some((o) => o.value === chosen)) to.value = chosen;
  to.title = desk.midi ? `MIDI: ${desk.midi}` : "";
  showLive(desk);
}

function showLive(desk) {
  live.playing = desk.playing;
  $("#live").textContent = desk.playing ? "Stop live" : "Play live";
  $("#live-to").disabled = desk.playing;
  $("#live-state").textContent = desk.playing
    ? `Playing live to ${desk.to.join(", ")}: Temperature, Density, Scale and Instrument turn it as it plays.`
    : desk.ended && desk.ended !== "stopped" ? `Live play ended: ${desk.ended}` : "";
}

$("#live").addEventListener("click", async () => {
  const error = $("#make-error");
  error.textContent = "";
  try {
    if (live.playing) { showLive(await api("DELETE", "/api/live")); return; }
    const r = makeRequest(), to = $("#live-to").value;
    const body = { primer: r.primer, model: r.model, instrument: r.instrument, seed: r.seed ?? 0, scale: r.scale };
    if (to === "play") body.play = true; else body.midi_out = to.slice("midi:".length);
    showLive(await api("POST", "/api/live", body));
  } catch (e) { error.textContent = e.message; }
});

for (const name of ["temperature", "density", "scale", "instrument"]) {
  $("#make-form").elements[name].addEventListener("change", async (e) => {
    if (!live.playing || e.target.value.trim() === "") return;
    try { $("#live-state").textContent = `Now ${(await api("POST", "/api/live/knobs", { name, value: e.target.value.trim() })).now}.`; }
    catch (err) { $("#make-error").textContent = err.message; }
  });
}

loadLive().catch((e) => { $("#live-state").textContent = `Live play is not available: ${e.message}`; });
