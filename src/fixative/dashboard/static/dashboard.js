// The dashboard's little JavaScript: sign in and out, start workflows through the API, follow
// runs' progress, and render the plots' Vega-Lite specs. No build step, no framework.
"use strict";

async function postJSON(url, body, headers) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: Object.assign({"Content-Type": "application/json"}, headers || {}),
    body: JSON.stringify(body || {}),
  });
  const text = await response.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = {message: text}; }
  if (!response.ok) { throw new Error((data && data.message) || response.statusText); }
  return data;
}

function signIn() {
  const form = document.getElementById("sign-in");
  if (!form) { return; }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = document.getElementById("token").value.trim();
    const error = document.getElementById("sign-in-error");
    try {
      await postJSON("/dashboard/sign-in", {}, {"Authorization": "Bearer " + token});
      const here = window.location.pathname;
      window.location.assign(here.endsWith("/sign-in") ? "/dashboard/" : window.location.href);
    } catch (e) {
      error.textContent = "Sign-in refused: " + e.message;
    }
  });
}

function signOut() {
  const button = document.getElementById("sign-out");
  if (!button) { return; }
  button.addEventListener("click", async () => {
    await postJSON("/dashboard/sign-out", {});
    window.location.assign("/dashboard/sign-in");
  });
}

function seconds(value) {
  return value === null || value === undefined ? "—" : value.toFixed(1) + " s";
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) { td.className = className; }
  return td;
}

function runRow(tbody, run, detail) {
  const row = tbody.insertRow();
  row.dataset.run = run.id;
  row.dataset.status = run.status;
  const id = cell(row, "", "num");
  const link = document.createElement("a");
  link.href = detail + run.id;
  link.textContent = run.id;
  id.appendChild(link);
  cell(row, run.kind);
  const status = cell(row, "");
  const badge = document.createElement("span");
  badge.className = "badge " + run.status.toLowerCase();
  badge.textContent = run.status;
  status.appendChild(badge);
  const progress = cell(row, "", "progress");
  if (run.percent !== null) {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = run.percent;
    bar.setAttribute("aria-label", "run " + run.id + " progress");
    progress.appendChild(bar);
    progress.appendChild(document.createTextNode(" "));
  }
  const pct = document.createElement("span");
  pct.className = "pct";
  pct.textContent = run.percent === null ? "—" : run.percent + "%";
  progress.appendChild(pct);
  cell(row, run.created.slice(0, 19).replace("T", " "));
  cell(row, seconds(run.queued_seconds), "num");
  cell(row, seconds(run.run_seconds), "num");
  cell(row, String(run.attempts), "num");
  cell(row, run.worker || "—", "worker");
}

function followRuns() {
  const table = document.getElementById("runs");
  if (!table) { return; }
  const source = table.dataset.source;
  const detail = table.dataset.detail;
  const going = () => table.querySelector('tr[data-status="QUEUED"], tr[data-status="RUNNING"]');
  let timer = null;
  const schedule = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, going() ? 500 : 3000);
  };
  async function refresh() {
    try {
      const response = await fetch(source, {credentials: "same-origin"});
      if (response.ok) {
        const runs = await response.json();
        const tbody = document.createElement("tbody");
        runs.forEach((run) => runRow(tbody, run, detail));
        table.replaceChild(tbody, table.tBodies[0]);
      }
    } finally {
      schedule();
    }
  }
  schedule();
  table.refreshRuns = refresh;
}

function startButtons() {
  const box = document.getElementById("starts");
  if (!box) { return; }
  const message = document.getElementById("start-message");
  const datastack = box.dataset.datastack;
  box.querySelectorAll("button.start").forEach((button) => {
    button.addEventListener("click", async () => {
      const kind = button.dataset.kind;
      const url = "/fixative/api/v1/datastack/" + encodeURIComponent(datastack) + "/workflow/" + kind;
      try {
        const run = await postJSON(url, {});
        message.textContent = "Started run " + run.id + " (" + kind + ").";
        const table = document.getElementById("runs");
        if (table && table.refreshRuns) { table.refreshRuns(); }
      } catch (e) {
        message.textContent = "Could not start " + kind + ": " + e.message;
      }
    });
  });
}

function charts() {
  document.querySelectorAll("script.vega-spec").forEach((node) => {
    const target = document.getElementById(node.dataset.target);
    const spec = JSON.parse(node.textContent);
    window.vegaEmbed(target, spec, {actions: false, renderer: "svg"}).then(() => {
      target.dataset.rendered = "yes";
    }).catch((e) => { target.textContent = "This chart could not be drawn: " + e.message; });
  });
}

signIn();
signOut();
followRuns();
startButtons();
if (window.vegaEmbed) { charts(); }
