// The stepfn console: a hash-routed page over /ui/api. No framework, no assets from the network.
"use strict";

const view = document.getElementById("view");
let timer = null;

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function pretty(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") { try { value = JSON.parse(value); } catch (e) { return value; } }
  return JSON.stringify(value, null, 2);
}

function when(text) { return text ? new Date(text).toLocaleString() : ""; }

// Event times to the millisecond, and seconds since the execution started.
function clock(text) {
  if (!text) return "";
  const t = new Date(text), pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
}

function elapsed(start, text) { return ((new Date(text) - new Date(start)) / 1000).toFixed(3) + " s"; }

let eventFilter = "";

function applyEventFilter() {
  const words = eventFilter.toLowerCase();
  document.querySelectorAll("#events tbody tr").forEach((tr) => { tr.hidden = Boolean(words) && !tr.dataset.search.includes(words); });
}

// A Gantt chart: one bar per state run and per job, from the execution's start; a running one ends at "now".
function timelineSvg(rows, total) {
  if (!rows.length) return "";
  const labelW = 230, w = 900, rowH = 20, top = 6, bottom = 28, h = top + rows.length * rowH + bottom;
  const span = Math.max(total, ...rows.map((r) => r.end ?? r.start), 0.001);
  const x = (t) => labelW + (t / span) * (w - labelW - 10);
  const colour = {SUCCEEDED: "#2e8540", Completed: "#2e8540", FAILED: "#c0392b", Failed: "#c0392b", CAUGHT: "#d35400",
    ABORTED: "#8a949c", Stopped: "#8a949c", RUNNING: "#c99a00", InProgress: "#c99a00"};
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<line x1="${x(f * span)}" y1="${top}" x2="${x(f * span)}" y2="${h - bottom}" stroke="#eef2f4"/>
    <text x="${x(f * span)}" y="${h - bottom + 14}" text-anchor="middle">${(f * span).toFixed(span < 10 ? 2 : 1)} s</text>`).join("");
  const bars = rows.map((r, i) => {
    const y = top + i * rowH, end = r.end ?? total, width = Math.max(x(end) - x(r.start), 2);
    const label = r.label.length > 34 ? r.label.slice(0, 33) + "…" : r.label;
    const name = r.kind === "job" ? `<a href="#/job/${esc(r.job.kind)}/${encodeURIComponent(r.job.name)}"><text x="${labelW - 6}" y="${y + 14}" text-anchor="end" fill="#2a6fb0">${esc(label)}</text></a>`
      : `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(label)}</text>`;
    return `<g class="bar" data-label="${esc(r.label)}" data-kind="${esc(r.kind)}" data-status="${esc(r.status || "")}">${name}
      <rect x="${x(r.start)}" y="${y + 3}" width="${width}" height="${rowH - 6}" rx="3" fill="${colour[r.status] || "#5b6770"}"${r.kind === "job" ? ' fill-opacity="0.55"' : ""}>
      <title>${esc(r.label)}: ${esc(r.status || "")}, ${(end - r.start).toFixed(3)} s (from +${r.start.toFixed(3)} s)</title></rect></g>`;
  }).join("");
  return `<svg id="timeline" class="timeline" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-size="11">${ticks}${bars}
    <text x="${(labelW + w) / 2}" y="${h - 2}" text-anchor="middle" fill="#6b777f">seconds from the execution's start</text></svg>`;
}

function seconds(row) {
  if (!row.stopDate) return "";
  return ((new Date(row.stopDate) - new Date(row.startDate)) / 1000).toFixed(2);
}

async function api(path, options) {
  const response = await fetch("api/" + path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.statusText);
  return body;
}

function stamp() { document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString(); }

function schedule(fn, ms) { clearTimeout(timer); timer = setTimeout(fn, ms); }

async function executionsPage() {
  const rows = await api("executions");
  const workflows = await api("workflows");
  const options = workflows.map((w) => `<option>${esc(w.name)}</option>`).join("");
  view.innerHTML = `
    <h2>Executions</h2>
    <div class="panel" id="start-panel">
      <label>Workflow <select id="start-workflow">${options}</select></label>
      <label>Input <textarea id="start-input">{}</textarea></label>
      <button id="start-button">Start execution</button> <span id="start-result"></span>
    </div>
    <table id="executions"><thead><tr><th>Name</th><th>Workflow</th><th>Status</th><th>Started</th><th>Seconds</th></tr></thead>
    <tbody>${rows.map((r) => `<tr class="clickable" data-arn="${esc(r.executionArn)}">
      <td>${esc(r.name)}</td><td>${esc(r.workflow)}</td><td class="status ${esc(r.status)}">${esc(r.status)}</td>
      <td>${esc(when(r.startDate))}</td><td>${seconds(r)}</td></tr>`).join("") ||
      '<tr><td colspan="5" class="muted">No executions yet.</td></tr>'}</tbody></table>`;
  view.querySelectorAll("tr[data-arn]").forEach((tr) =>
    tr.addEventListener("click", () => { location.hash = "#/execution/" + encodeURIComponent(tr.dataset.arn); }));
  document.getElementById("start-button").addEventListener("click", async () => {
    const out = document.getElementById("start-result");
    try {
      const input = JSON.parse(document.getElementById("start-input").value || "{}");
      const started = await api("executions", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({workflow: document.getElementById("start-workflow").value, input})});
      location.hash = "#/execution/" + encodeURIComponent(started.executionArn);
    } catch (error) { out.innerHTML = `<span class="error">${esc(error.message)}</span>`; }
  });
  stamp();
  if (rows.some((r) => r.status === "RUNNING")) schedule(route, 1500);
}

async function workflowsPage() {
  const rows = await api("workflows");
  view.innerHTML = `<h2>Workflows</h2><table id="workflows"><thead><tr><th>Name</th><th>States</th><th>Type</th><th>Created</th></tr></thead>
    <tbody>${rows.map((w) => `<tr class="clickable" data-workflow="${esc(w.name)}"><td>${esc(w.name)}</td><td>${w.states}</td><td>${esc(w.type)}</td>
      <td>${esc(when(w.creationDate))}</td></tr>`).join("") || '<tr><td colspan="4" class="muted">None.</td></tr>'}</tbody></table>`;
  view.querySelectorAll("tr[data-workflow]").forEach((tr) =>
    tr.addEventListener("click", () => { location.hash = "#/workflow/" + encodeURIComponent(tr.dataset.workflow); }));
  stamp();
}

async function workflowPage(name) {
  const w = await api("workflow/" + encodeURIComponent(name));
  view.innerHTML = `<h2 id="workflow-name">${esc(w.name)}</h2>
    <p class="muted">${esc(w.stateMachineArn)} · ${w.states} states · created ${esc(when(w.creationDate))}</p>
    <div class="cols"><div class="panel graph" id="graph">${w.graph}</div>
      <div class="panel"><h3>Definition</h3><pre id="definition" class="record">${esc(JSON.stringify(w.definition, null, 2))}</pre></div></div>
    <h3>Executions</h3><table id="workflow-executions"><thead><tr><th>Name</th><th>Status</th><th>Started</th><th>Seconds</th></tr></thead>
    <tbody>${w.executions.map((r) => `<tr class="clickable" data-arn="${esc(r.executionArn)}"><td>${esc(r.name)}</td>
      <td class="status ${esc(r.status)}">${esc(r.status)}</td><td>${esc(when(r.startDate))}</td><td>${seconds(r)}</td></tr>`).join("") ||
      '<tr><td colspan="4" class="muted">No executions yet.</td></tr>'}</tbody></table>`;
  view.querySelectorAll("tr[data-arn]").forEach((tr) =>
    tr.addEventListener("click", () => { location.hash = "#/execution/" + encodeURIComponent(tr.dataset.arn); }));
  stamp();
}

async function act(action, body) {
  const answer = await api("actions/" + action, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)});
  location.hash = "#/execution/" + encodeURIComponent(answer.executionArn);
  route();  // the same hash after Stop or Redrive: show the new status now
}

function actionError(error) {
  document.getElementById("action-result").innerHTML = `<span class="error">${esc(error.message)}</span>`;
}

function jobLinks(jobs) {
  return (jobs || []).map((j) =>
    `<a href="#/job/${esc(j.kind)}/${encodeURIComponent(j.name)}">${esc(j.kind)} ${esc(j.name)}</a>`).join("<br>");
}

// The run of a state the detail shows: the one picked, else the one its status comes from (running, failed,
// else the last). Input, output, error and jobs always come from that one run, never from siblings.
function pickedRun(state) {
  const runs = state.history || [];
  if (selectedRun !== null && runs[selectedRun]) return [selectedRun, runs[selectedRun]];
  const rank = {RUNNING: 4, FAILED: 3, ABORTED: 2, CAUGHT: 1, SUCCEEDED: 0};
  let best = runs.length - 1;
  runs.forEach((r, i) => { if ((rank[r.status] || 0) > (rank[runs[best].status] || 0)) best = i; });
  return [best, runs[best]];
}

function iterationsTable(run) {
  if (!run.iterations.length) return "";
  return `<h3>Iterations</h3><table id="iterations"><thead><tr><th>#</th><th>Status</th><th>Seconds</th><th>Error</th><th>Job</th></tr></thead>
    <tbody>${run.iterations.map((it) => `<tr class="clickable" data-iteration="${it.index}"><td>${it.index}</td>
      <td class="status ${esc(it.status)}">${esc(it.status)}${it.retries ? ` (retried ${it.retries})` : ""}</td>
      <td>${it.seconds === null ? "" : it.seconds.toFixed(2)}</td><td>${esc(it.error || "")}</td>
      <td>${jobLinks(it.jobs)}</td></tr>`).join("")}</tbody></table>`;
}

function stateDetail(state, execution) {
  if (!state) return '<p class="muted">Click a state in the graph or the table.</p>';
  const [index, run] = pickedRun(state);
  // Rerun from here: a new execution that starts at this (top-level, entered) state with its recorded input.
  const rerun = execution && execution.status !== "RUNNING" && state.topLevel && state.runs > 0
    ? `<button id="rerun-button" data-state="${esc(state.name)}">Rerun from here</button>` : "";
  const picker = state.history.length > 1 ? `<label>Run <select id="run-picker">${state.history.map((r, i) =>
    `<option value="${i}"${i === index ? " selected" : ""}>${esc(r.path)}: ${esc(r.status)}</option>`).join("")}</select></label>` : "";
  const jobs = jobLinks(run.jobs);
  const retried = run.retries ? ` (retried ${run.retries}: ${esc(run.retriedErrors.join(", "))})` : "";
  return `<h3>${esc(state.name)} <span class="status ${esc(state.status)}" id="state-status">${esc(state.label)}</span> ${rerun}</h3>
    ${picker}
    <p id="run-status">${esc(run.path)}: <span class="status ${esc(run.status)}">${esc(run.status)}</span>${retried}
      ${run.seconds === null ? "" : ` · ${run.seconds.toFixed(2)} s`}</p>
    ${jobs ? `<p id="run-jobs">${jobs}</p>` : ""}
    ${run.error ? `<p class="error" id="run-error">${esc(run.error)}</p><pre class="cause">${esc(run.cause)}</pre>` : ""}
    ${iterationsTable(run)}
    <h3>Input</h3><pre id="run-input">${esc(pretty(run.input))}</pre>
    <h3>Output</h3><pre id="run-output">${esc(pretty(run.output))}</pre>`;
}

let selectedRun = null;

// What failed, first: the exception line, where (state, iteration, job, the user's file:line), the log's last
// lines; the whole cause (a DescribeTrainingJob record) one click away, wrapped so it never widens the page.
function failureCard(card) {
  const where = esc(card.state || "") + (card.iteration ? ` in ${esc(card.iteration)}` : "");
  const job = card.job ? `<a href="#/job/${esc(card.jobKind)}/${encodeURIComponent(card.job)}">${esc(card.jobKind)} ${esc(card.job)}</a>` : "";
  const source = card.source ? `<span id="failure-source" title="ran as ${esc(card.source.ran)}:${card.source.line}">${esc(card.source.location)}</span>` : "";
  return `<div class="panel failure" id="failure-card">
    <div class="error" id="failure-reason">${esc(card.status)}: ${esc(card.reason || card.error || "")}</div>
    <dl>${where ? `<dt>State</dt><dd id="failure-state">${where}</dd>` : ""}
      ${card.error ? `<dt>Error</dt><dd>${esc(card.error)}</dd>` : ""}
      ${job ? `<dt>Job</dt><dd>${job}</dd>` : ""}${source ? `<dt>Source</dt><dd>${source}</dd>` : ""}</dl>
    ${card.logTail.length ? `<h3>Last ${card.logTail.length} lines of the log</h3><pre class="log cause" id="failure-log">${esc(card.logTail.join("\n"))}</pre>` : ""}
    ${card.cause ? `<details><summary>Whole cause</summary><pre class="cause record" id="failure-cause">${esc(pretty(card.cause))}</pre></details>` : ""}
  </div>`;
}
let selectedState = null;

let stream = null;

// Server-sent events: the server pushes what changed; the page never polls. One stream at a time.
function follow(path, handlers) {
  if (stream) stream.close();
  stream = new EventSource("api/stream/" + path);
  for (const [name, handle] of Object.entries(handlers)) {
    stream.addEventListener(name, (message) => handle(JSON.parse(message.data)));
  }
  return stream;
}

function arnPath(arn) { return encodeURIComponent(arn).replace(/%3A/g, ":"); }

async function executionPage(arn) {
  const data = await api("execution/" + arnPath(arn));
  renderExecution(data);
  if (data.execution.status === "RUNNING") {
    follow("execution/" + arnPath(arn), {
      execution: (view) => {
        const y = window.scrollY;
        renderExecution(view);
        window.scrollTo(0, y);  // a redraw must not move the reader
        if (view.execution.status !== "RUNNING") stream.close();
      },
      gone: () => stream.close(),
    });
  }
}

// A Map of jobs as a table: each iteration's hyperparameters, status, duration and final metrics; a click on
// a column header sorts by it (again: the other way).
function sweepTable(state, rows) {
  const hyper = [...new Set(rows.flatMap((r) => Object.keys(r.hyperparameters)))];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const columns = [["#", (r) => r.iteration], ...hyper.map((h) => [h, (r) => r.hyperparameters[h]]),
    ["status", (r) => r.status || r.iterationStatus], ["seconds", (r) => r.seconds],
    ...metrics.map((m) => [m, (r) => r.metrics[m]]), ["job", (r) => r.name]];
  const cell = (value) => value === undefined || value === null ? "" : typeof value === "number" && !Number.isInteger(value) ? value.toPrecision(5) : value;
  return `<h3>Sweep: ${esc(state)}</h3><table class="sweep" data-state="${esc(state)}"><thead><tr>${columns.map(([name], i) =>
    `<th class="sortable" data-column="${i}">${esc(name)}</th>`).join("")}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${columns.map(([name, get]) => name === "job"
      ? `<td><a href="#/job/${esc(r.kind)}/${encodeURIComponent(r.name)}">${esc(r.name)}</a></td>`
      : `<td data-value="${esc(get(r) ?? "")}"${name === "status" ? ` class="status ${esc(String(get(r)).toUpperCase())}"` : ""}>${esc(cell(get(r)))}</td>`).join("")}</tr>`).join("")}</tbody></table>
    <div class="sweep-curves" data-state="${esc(state)}"></div>`;
}

// Overlaid curves of a sweep: for the metric picked, one series per iteration (from each job's log).
async function sweepCurves(state, rows) {
  const box = document.querySelector(`.sweep-curves[data-state="${CSS.escape(state)}"]`);
  if (!box) return;
  const jobs = await Promise.all(rows.slice(0, 20).map((r) =>
    api(`jobs/${r.kind}/${encodeURIComponent(r.name)}`).then((job) => [r, job.metrics]).catch(() => [r, {}])));
  const names = [...new Set(jobs.flatMap(([, metrics]) => Object.keys(metrics)))].sort();
  if (!names.length) return;
  const hyper = [...new Set(rows.flatMap((r) => Object.keys(r.hyperparameters)))];
  const varying = hyper.filter((h) => new Set(rows.map((r) => r.hyperparameters[h])).size > 1);
  const label = (r) => `#${r.iteration}` + (varying.length ? " " + varying.map((h) => `${h}=${r.hyperparameters[h]}`).join(" ") : "");
  const picked = names.find((n) => n.startsWith("validation:")) || names[0];
  box.innerHTML = `<label>Curves of <select class="curve-metric">${names.map((n) =>
    `<option${n === picked ? " selected" : ""}>${esc(n)}</option>`).join("")}</select></label><div class="curve"></div>`;
  const draw = (metric) => {
    box.querySelector(".curve").innerHTML = chart(metric, jobs.filter(([, m]) => (m[metric] || []).length)
      .map(([r, m]) => [label(r), m[metric]]));
  };
  box.querySelector(".curve-metric").addEventListener("change", (e) => draw(e.target.value));
  draw(picked);
}

function sortable(table) {
  table.querySelectorAll("th.sortable").forEach((th) => th.addEventListener("click", () => {
    const column = Number(th.dataset.column), body = table.tBodies[0];
    const down = th.dataset.order !== "asc";
    table.querySelectorAll("th").forEach((other) => delete other.dataset.order);
    th.dataset.order = down ? "asc" : "desc";
    // A missing value or a NaN (a diverged loss) has no place in an order: last, whichever way it is sorted.
    const key = (tr) => {
      const v = tr.cells[column].dataset.value ?? tr.cells[column].textContent;
      if (v === "" || v === "NaN") return null;
      const n = Number(v);
      return Number.isNaN(n) ? v : n;
    };
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === null || y === null) return (x === null) - (y === null);
      return (x < y ? -1 : x > y ? 1 : 0) * (down ? 1 : -1);
    });
    rows.forEach((tr) => body.appendChild(tr));
  }));
}

async function fillCompare(ex) {
  const select = document.getElementById("compare-with");
  const machine = ex.stateMachineArn;
  const others = (await api("executions?workflow=" + encodeURIComponent(machine) + "&limit=50"))
    .filter((r) => r.executionArn !== ex.executionArn);
  select.innerHTML = '<option value="">…</option>' + others.map((r) =>
    `<option value="${esc(r.executionArn)}">${esc(r.name)} (${esc(r.status)})</option>`).join("");
  select.addEventListener("change", () => {
    if (select.value) location.hash = `#/diff/${encodeURIComponent(ex.executionArn)}/${encodeURIComponent(select.value)}`;
  });
}

function renderExecution(data) {
  const ex = data.execution;
  const byName = Object.fromEntries(data.states.map((s) => [s.name, s]));
  view.innerHTML = `
    <h2>${esc(ex.name)} <span class="status ${esc(ex.status)}" id="execution-status">${esc(ex.status)}</span></h2>
    <p class="muted">${esc(ex.executionArn)} · started ${esc(when(ex.startDate))}</p>
    <div class="actions">
      ${ex.status === "RUNNING" ? '<button id="stop-button">Stop</button>' : ""}
      ${ex.redriveStatus === "REDRIVABLE" ? '<button id="redrive-button">Redrive</button>' : ""}
      <span id="action-result"></span>
      <label class="compare">Compare with <select id="compare-with"><option value="">…</option></select></label>
    </div>
    ${data.failure ? failureCard(data.failure) : ""}
    <div class="cols">
      <div class="panel graph" id="graph">${data.graph}</div>
      <div class="panel" id="state-detail">${stateDetail(byName[selectedState], ex)}</div>
    </div>
    <div class="cols">
      <div class="panel"><h3>Execution input</h3><pre>${esc(pretty(ex.input))}</pre></div>
      <div class="panel"><h3>Execution output</h3><pre id="execution-output">${esc(pretty(ex.output))}</pre></div>
    </div>
    <h3>Timeline</h3><div class="panel graph">${timelineSvg(data.timeline || [],
      ((ex.stopDate ? new Date(ex.stopDate) : new Date()) - new Date(ex.startDate)) / 1000)}</div>
    ${Object.entries(data.sweeps || {}).map(([state, rows]) => sweepTable(state, rows)).join("")}
    <h3>States</h3>
    <table id="states"><thead><tr><th>State</th><th>Type</th><th>Status</th><th>Runs</th><th>Seconds</th></tr></thead>
    <tbody>${data.states.map((s) => `<tr class="clickable" data-state="${esc(s.name)}"><td>${esc(s.name)}</td>
      <td>${esc(s.type)}</td><td class="status ${esc(s.status)}">${esc(s.label)}</td><td>${s.runs}</td>
      <td>${s.seconds === null ? "" : s.seconds.toFixed(2)}</td></tr>`).join("")}</tbody></table>
    <h3>Event history</h3>
    <p><input id="event-filter" placeholder="filter: type, state or error" value="${esc(eventFilter)}" size="36"></p>
    <table id="events"><thead><tr><th>ID</th><th>Type</th><th>Time</th><th>Elapsed</th><th>Details</th></tr></thead>
    <tbody>${data.events.map((e) => {
      const key = Object.keys(e).find((k) => k.endsWith("EventDetails"));
      const details = key ? e[key] : {};
      const summary = details.name || details.error || details.resource || "";
      const decoded = Object.fromEntries(Object.entries(details).map(([k, v]) => {
        if (typeof v === "string" && /^[[{]/.test(v)) { try { return [k, JSON.parse(v)]; } catch (err) { return [k, v]; } }
        return [k, v];
      }));
      return `<tr data-search="${esc((e.type + " " + summary).toLowerCase())}"><td>${e.id}</td><td>${esc(e.type)}</td>
        <td class="time">${esc(clock(e.timestamp))}</td><td class="elapsed">+${elapsed(ex.startDate, e.timestamp)}</td>
        <td>${key ? `<details><summary>${esc(summary) || "details"}</summary><pre class="record">${esc(JSON.stringify(decoded, null, 2))}</pre></details>` : ""}</td></tr>`;
    }).join("")}</tbody></table>`;
  const bindRerun = () => {
    const button = document.getElementById("rerun-button");
    if (button) button.addEventListener("click", () =>
      act("rerun", {executionArn: ex.executionArn, fromState: button.dataset.state}).catch(actionError));
  };
  const pick = (name, run) => {
    if (name !== selectedState || run !== undefined) selectedRun = run === undefined ? null : run;
    selectedState = name;
    document.getElementById("state-detail").innerHTML = stateDetail(byName[name], ex);
    bindRerun();
    const picker = document.getElementById("run-picker");
    if (picker) picker.addEventListener("change", () => pick(name, Number(picker.value)));
    // An iteration of a Map: show the run of the state inside it that decided the iteration.
    document.querySelectorAll("#iterations tr[data-iteration]").forEach((tr) => tr.addEventListener("click", () => {
      const inner = data.states.find((s) => !s.topLevel && s.history.some((r) => r.iteration === Number(tr.dataset.iteration)
        && r.path.startsWith(name + "[")));
      if (!inner) return;
      const runs = inner.history.map((r, i) => [r, i]).filter(([r]) => r.iteration === Number(tr.dataset.iteration)
        && r.path.startsWith(name + "["));
      const decisive = runs.find(([r]) => r.status === "FAILED") || runs[runs.length - 1];
      pick(inner.name, decisive[1]);
    }));
  };
  if (selectedState) pick(selectedState, selectedRun === null ? undefined : selectedRun);
  for (const [id, action] of [["stop-button", "stop"], ["redrive-button", "redrive"]]) {
    const button = document.getElementById(id);
    if (button) button.addEventListener("click", () => act(action, {executionArn: ex.executionArn}).catch(actionError));
  }
  view.querySelectorAll("table.sweep").forEach(sortable);
  for (const [state, rows] of Object.entries(data.sweeps || {})) sweepCurves(state, rows);
  fillCompare(ex);
  const filter = document.getElementById("event-filter");
  filter.addEventListener("input", () => { eventFilter = filter.value; applyEventFilter(); });
  applyEventFilter();
  view.querySelectorAll("#graph g.state, #states tr[data-state]").forEach((el) =>
    el.addEventListener("click", () => pick(el.dataset.state)));
  stamp();
}

const PALETTE = ["#2a6fb0", "#d35400", "#2e8540", "#8e44ad", "#c0392b", "#16a085"];

function tick(value) {
  if (typeof value !== "number") return String(value);  // "NaN", "Infinity": what a diverged run logged
  if (Math.abs(value) >= 1e6) return value.toPrecision(3);
  return Math.abs(value) >= 1000 || value === Math.round(value) ? String(value) : value.toPrecision(4);
}

// One chart per metric (train:rmse and validation:rmse share the "rmse" chart), x: the step (the n-th value
// the log printed, a round or an epoch), y: the metric, one coloured series each; a single value is a number.
function chart(title, series) {
  if (series.every(([, values]) => values.length === 1)) {
    return series.map(([name, values]) => `<div class="metric-value" data-metric="${esc(name)}">${esc(name)}
      <b>${esc(tick(values[0]))}</b></div>`).join("");
  }
  const w = 460, h = 220, left = 56, right = 12, top = 14, bottom = 40;
  // A diverged run logs inf and nan (sent as "Infinity" and "NaN"): they have no place on an axis; the curve
  // stops at its last finite value, and the legend says what came last.
  const all = series.flatMap(([, values]) => values.map(Number).filter(Number.isFinite));
  if (!all.length) all.push(0);
  const steps = Math.max(...series.map(([, values]) => values.length));
  const lo = Math.min(...all), hi = Math.max(...all);
  // Values over many orders of magnitude (a loss that blew up beside ones that settled): a log scale, so the
  // settled curves are not a flat line at the bottom.
  const log = lo > 0 && hi / lo > 1e4;
  const scale = (v) => log ? Math.log10(v) : v;
  const span = scale(hi) - scale(lo) || 1;
  const x = (i) => left + (steps <= 1 ? 0 : (i * (w - left - right)) / (steps - 1));
  const y = (v) => h - bottom - ((scale(v) - scale(lo)) * (h - top - bottom)) / span;
  const lines = series.map(([name, values], k) => {
    const colour = PALETTE[k % PALETTE.length];
    const drawn = values.map((v, i) => [Number(v), i]).filter(([v]) => Number.isFinite(v));
    const points = drawn.map(([v, i]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    return `<g class="series" data-series="${esc(name)}"><polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>
      ${drawn.map(([v, i]) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.2" fill="${colour}"><title>${esc(name)} step ${i}: ${esc(v)}</title></circle>`).join("")}</g>`;
  }).join("");
  const legend = series.map(([name, values], k) => `<span class="legend"><i style="background:${PALETTE[k % PALETTE.length]}"></i>${esc(name)} (last ${esc(tick(values[values.length - 1]))})</span>`).join("");
  return `<figure><figcaption>${esc(title)} ${legend}</figcaption>
    <svg class="chart" data-metric="${esc(title)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-size="10">
    <line class="axis x-axis" x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}" stroke="#8a949c"/>
    <line class="axis y-axis" x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" stroke="#8a949c"/>
    <text x="${left - 4}" y="${top + 4}" text-anchor="end">${esc(tick(hi))}</text>
    <text x="${left - 4}" y="${h - bottom}" text-anchor="end">${esc(tick(lo))}</text>
    <text x="${left}" y="${h - bottom + 14}" text-anchor="middle">0</text>
    <text x="${w - right}" y="${h - bottom + 14}" text-anchor="end">${steps - 1}</text>
    <text class="x-label" x="${(left + w - right) / 2}" y="${h - 6}" text-anchor="middle">step (n-th value in the log)</text>
    <text class="y-label" transform="translate(12 ${(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(title)}${log ? " (log scale)" : ""}</text>
    ${lines}</svg></figure>`;
}

function metricsHtml(metrics, finals) {
  const groups = {};
  for (const [name, values] of Object.entries(metrics)) {
    const key = name.includes(":") ? name.slice(name.indexOf(":") + 1) : name;
    (groups[key] = groups[key] || []).push([name, values]);
  }
  const charts = Object.entries(groups).map(([title, series]) => chart(title, series)).join("");
  const final = (finals || []).length ? `<table id="final-metrics"><thead><tr><th>Final metric</th><th>Value</th></tr></thead>
    <tbody>${finals.map((m) => `<tr><td>${esc(m.MetricName)}</td><td>${esc(m.Value)}</td></tr>`).join("")}</tbody></table>` : "";
  return (charts || '<p class="muted">No metrics in the log.</p>') + final;
}

async function jobPage(kind, name) {
  const data = await api(`jobs/${kind}/${encodeURIComponent(name)}`);
  const record = data.record || {};
  const status = record.TrainingJobStatus || record.ProcessingJobStatus || record.TransformJobStatus || "";
  view.innerHTML = `<h2>${esc(kind)} ${esc(name)} <span class="status ${esc(status.toUpperCase())}" id="job-status">${esc(status)}</span>
    ${stopButton(kind, name, status)}</h2><p id="action-result"></p>
    ${record.FailureReason ? `<p class="error cause">${esc(record.FailureReason)}</p>` : ""}
    <h3>Metrics</h3><div id="metrics">${metricsHtml(data.metrics, data.finalMetrics)}</div>
    <h3>Log</h3><pre class="log" id="job-log">${esc(data.log)}</pre>
    <details><summary>Description</summary><pre class="record">${esc(pretty(record))}</pre></details>`;
  bindStopButtons();
  stamp();
  if (status !== "InProgress" && status !== "Stopping") return;
  const log = document.getElementById("job-log");
  let refreshed = 0;
  follow(`job/${kind}/${encodeURIComponent(name)}?offset=${data.logBytes}`, {
    log: (chunk) => {
      // Follow the tail only while the reader is at the bottom; a reader scrolled up keeps their place.
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(chunk.text));
      if (atBottom) log.scrollTop = log.scrollHeight;
      if (Date.now() - refreshed > 2000) { refreshed = Date.now(); refreshMetrics(kind, name); }
      stamp();
    },
    end: (end) => {
      stream.close();
      const badge = document.getElementById("job-status");
      badge.textContent = end.status;
      badge.className = "status " + end.status.toUpperCase();
      view.querySelectorAll("button.stop-job").forEach((button) => button.remove());
      refreshMetrics(kind, name);
    },
  });
}

async function refreshMetrics(kind, name) {
  const data = await api(`jobs/${kind}/${encodeURIComponent(name)}`);
  document.getElementById("metrics").innerHTML = metricsHtml(data.metrics, data.finalMetrics);
}

async function diffPage(a, b) {
  const data = await api(`diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  const name = (arn) => arn.split(":").pop();
  const show = (value) => value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2);
  view.innerHTML = `<h2>${esc(name(a))} vs ${esc(name(b))}</h2>
    <table id="diff"><thead><tr><th></th><th><a href="#/execution/${encodeURIComponent(a)}">${esc(name(a))}</a></th>
      <th><a href="#/execution/${encodeURIComponent(b)}">${esc(name(b))}</a></th></tr></thead>
    <tbody>${data.rows.map((r) => `<tr data-key="${esc(r.key)}"><td>${esc(r.key)}</td><td><pre class="record">${esc(show(r.a))}</pre></td>
      <td><pre class="record">${esc(show(r.b))}</pre></td></tr>`).join("") || '<tr><td colspan="3" class="muted">No differences.</td></tr>'}</tbody></table>`;
  stamp();
}

// SageMaker's own actions on a job or an endpoint (StopTrainingJob..., DeleteEndpoint), as a JSON POST like
// every action of the console; then the page is drawn again with what changed.
async function sagemakerAction(path, button) {
  button.disabled = true;
  try {
    await api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
    await route();
  } catch (error) {
    button.disabled = false;
    document.getElementById("action-result").innerHTML = `<span class="error">${esc(error.message)}</span>`;
  }
}

const ACTIVE_JOB = ["InProgress", "Stopping"];

function stopButton(kind, name, status) {
  return status === "InProgress" ? `<button class="stop-job" data-kind="${esc(kind)}" data-name="${esc(name)}">Stop</button>` : "";
}

function bindStopButtons() {
  view.querySelectorAll("button.stop-job").forEach((button) => button.addEventListener("click", (event) => {
    event.stopPropagation();
    sagemakerAction(`jobs/${button.dataset.kind}/${encodeURIComponent(button.dataset.name)}/stop`, button);
  }));
}

async function jobsPage() {
  const rows = await api("jobs");
  const stamp10 = (value) => value ? when(value > 1e11 ? value : value * 1000) : "";
  view.innerHTML = `<h2>Jobs</h2><p id="action-result"></p><table id="jobs"><thead><tr><th>Kind</th><th>Name</th><th>Status</th><th>Created</th>
    <th>Seconds</th><th>Final metrics</th><th></th></tr></thead>
    <tbody>${rows.map((j) => `<tr class="clickable" data-kind="${esc(j.kind)}" data-name="${esc(j.name)}"><td>${esc(j.kind)}</td>
      <td><a href="#/job/${esc(j.kind)}/${encodeURIComponent(j.name)}">${esc(j.name)}</a></td>
      <td class="status ${esc(String(j.status).toUpperCase())}" title="${esc(j.failureReason || "")}">${esc(j.status)}</td>
      <td>${esc(stamp10(j.created))}</td><td>${j.seconds === null ? "" : j.seconds.toFixed(1)}</td>
      <td>${Object.entries(j.metrics).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(", ")}</td>
      <td>${stopButton(j.kind, j.name, j.status)}</td></tr>`).join("") ||
      '<tr><td colspan="7" class="muted">No jobs.</td></tr>'}</tbody></table>`;
  bindStopButtons();
  stamp();
  // A job that is running or stopping changes on its own: look again until none is.
  if (rows.some((j) => ACTIVE_JOB.includes(j.status))) schedule(route, 1000);
}

async function endpointsPage() {
  const rows = await api("endpoints");
  view.innerHTML = `<h2>Endpoints</h2><p id="action-result"></p><table id="endpoints"><thead><tr><th>Name</th><th>Status</th><th>Config</th><th>Created</th><th></th></tr></thead>
    <tbody>${rows.map((e) => `<tr data-name="${esc(e.EndpointName)}"><td>${esc(e.EndpointName)}</td><td class="status">${esc(e.EndpointStatus)}</td>
      <td>${esc(e.EndpointConfigName)}</td><td>${esc(when(e.CreationTime))}</td>
      <td><button class="delete-endpoint" data-name="${esc(e.EndpointName)}">Delete</button></td></tr>`).join("") ||
      '<tr><td colspan="5" class="muted">No endpoints.</td></tr>'}</tbody></table>`;
  view.querySelectorAll("button.delete-endpoint").forEach((button) => button.addEventListener("click", () => {
    if (confirm(`Delete endpoint ${button.dataset.name}?`)) sagemakerAction(`endpoints/${encodeURIComponent(button.dataset.name)}/delete`, button);
  }));
  stamp();
}

async function route() {
  clearTimeout(timer);
  if (stream) { stream.close(); stream = null; }
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  try {
    if (parts[0] === "execution") await executionPage(decodeURIComponent(parts.slice(1).join("/")));
    else if (parts[0] === "job") await jobPage(parts[1], decodeURIComponent(parts[2]));
    else if (parts[0] === "diff") await diffPage(decodeURIComponent(parts[1]), decodeURIComponent(parts[2]));
    else if (parts[0] === "workflows") await workflowsPage();
    else if (parts[0] === "workflow") await workflowPage(decodeURIComponent(parts.slice(1).join("/")));
    else if (parts[0] === "endpoints") await endpointsPage();
    else if (parts[0] === "jobs") await jobsPage();
    else await executionsPage();
  } catch (error) {
    view.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

// The console URL carries ?token= once, and the server answered this page with the token as a cookie: take it
// out of the address bar (as Jupyter does), so it is not left in the history, a bookmark, a screenshot or a link
// a person copies. The route (the hash) and any other query parameter stay.
function forgetTokenInAddressBar() {
  const url = new URL(location.href);
  if (!url.searchParams.has("token")) return;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

forgetTokenInAddressBar();
window.addEventListener("hashchange", () => { selectedState = null; selectedRun = null; route(); });
route();
