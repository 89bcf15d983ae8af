// ambient studio: the Collection & pipeline page (sources, stages, failures with their logs, models).
"use strict";

async function loadPipeline() {
  let view;
  try { view = await api("GET", "/api/pipeline"); } catch (e) { $("#pipeline-error").textContent = e.message; return; }
  $("#ws-path").textContent = view.workspace;
  $("#ws-none").hidden = view.is_workspace;
  $("#ws-body").hidden = !view.is_workspace;
  if (!view.is_workspace) return;
  const stages = $("#stages tbody");
  stages.innerHTML = "";
  for (const [name, s] of Object.entries(view.stages)) {
    const tr = stages.insertRow();
    tr.innerHTML = `<td>${name}</td><td class="done">${s.done}</td><td>${s.to_do}</td><td class="${s.failed ? "failed" : ""}">${s.failed}</td>`;
  }
  const failures = $("#failures");
  failures.innerHTML = "";
  for (const [name, s] of Object.entries(view.stages)) {
    for (const [input, error] of Object.entries(s.errors)) {
      const box = document.createElement("div");
      box.className = "failure";
      box.innerHTML = `<div><b></b> in <i></i>: <span class="line"></span></div><button>Show log</button><pre hidden></pre>`;
      $("b", box).textContent = input; $("i", box).textContent = name; $(".line", box).textContent = error;
      $("button", box).onclick = async () => {
        const logs = await api("GET", `/api/pipeline/logs/${name}?source=${encodeURIComponent(input)}`);
        $("pre", box).textContent = logs.datums.map((d) => d.log || d.error).join("\n") || "(no log)";
        $("pre", box).hidden = false;
      };
      failures.appendChild(box);
    }
  }
  const stageNames = Object.keys(view.stages).filter((n) => n !== "train");
  $("#sources thead").innerHTML = `<tr><th>source</th>${stageNames.map((n) => `<th>${n}</th>`).join("")}</tr>`;
  const sources = $("#sources tbody");
  sources.innerHTML = "";
  hint(sources, view.sources.length, stageNames.length + 1,
       "No audio yet. Add audio files above (a folder of your records), then Run the pipeline: each is " +
       "decoded, transcribed to notes and tokenized, and a model learns from all of them.");
  for (const src of view.sources) {
    const tr = sources.insertRow();
    tr.insertCell().textContent = src.name;
    for (const n of stageNames) { const td = tr.insertCell(); td.textContent = src.stages[n] || ""; td.className = (src.stages[n] || "").replace(" ", "-"); }
  }
  const models = $("#models tbody");
  models.innerHTML = "";
  hint(models, view.models.length, 4, "No model yet: a run trains one on the transcribed sources, and it " +
       "appears in Make's model list.");
  for (const m of view.models) {
    const tr = models.insertRow();
    tr.insertCell().textContent = m.name;
    tr.insertCell().textContent = m.validation_loss ? m.validation_loss.toFixed(3) : "";
    tr.insertCell().textContent = m.files;
    tr.insertCell().textContent = m.sources.join(", ");
  }
  if (view.run && $("#run-job").hidden) watchJob(view.run, $("#run-job"), $("#pipeline-error")).then(loadPipeline);
}

$("#ws-init").onclick = async () => { await api("POST", "/api/pipeline/init"); loadPipeline(); };
$("#run").onclick = async () => {
  if (!$("#sources tbody tr:not(.hint)")) {    // nothing to run on: say so rather than run for a second
    $("#pipeline-error").textContent = "Nothing to run yet: add audio files first.";
    return;
  }
  try {
    const job = await api("POST", "/api/pipeline/run");
    const ticker = setInterval(loadPipeline, 2000);
    const done = await watchJob(job, $("#run-job"), $("#pipeline-error"));
    clearInterval(ticker);
    if (done.state === "done") $("#run-note").textContent = `Run finished: ${done.result.last_line}`;
    loadPipeline(); loadOptions();
  } catch (e) { $("#pipeline-error").textContent = e.message; }
};

// an empty table says what would fill it
function hint(body, rows, columns, text) {
  if (rows) return;
  const row = body.insertRow();
  row.className = "hint";
  const cell = row.insertCell();
  cell.colSpan = columns; cell.textContent = text;
}
$("#source-files").addEventListener("change", async (e) => {
  const error = $("#pipeline-error");
  error.textContent = "";
  for (const file of e.target.files) {
    try { await api("POST", `/api/pipeline/sources?filename=${encodeURIComponent(file.name)}`, undefined, file); }
    catch (err) { error.textContent = err.message; }
  }
  e.target.value = "";
  loadPipeline();
});
