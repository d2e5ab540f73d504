// The server screen: version and uptime, the VPN's and the DNS resolver's numbers, web.db's
// health, and `waypost doctor` run from the page. Loaded before app.js, whose helpers it uses.
"use strict";

const DOCTOR_POLL_MS = 2000;

function formatDuration(s) {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}

function pairs(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    return [dt, dd];
  }));
}

const percent = (part, whole) => (whole ? ` (${((100 * part) / whole).toFixed(1)} %)` : "");

function renderServer(r) {
  const wg = r.wireguard || {};
  const ike = r.ikev2 || {};
  const users = r.users || {};
  pairs($("server-facts"), [
    ["Version", r.version],
    ["Running for", `${formatDuration(r.uptime_s || 0)} (since ${new Date(r.up_since * 1000).toLocaleString()})`],
    ["Endpoint", r.endpoint],
    ["WireGuard", wg.enabled ? `UDP ${wg.port} on ${wg.interface}` : "off"],
    ["IKEv2", ike.enabled ? (ike.interface ? `on (${ike.interface})` : "on") : "off"],
    ["Users", `${users.total} (${users.online} online, ${users.disabled} disabled)`],
  ]);
  const db = r.web_db || {};
  $("server-db").hidden = db.ok !== false;
  $("server-db").textContent = db.ok === false ? `The page's database: ${db.error}` : "";
  const dns = r.dns;
  $("dns-off").hidden = !!dns;
  $("dns-facts").hidden = !dns;
  $("dns-users").hidden = !dns || !(dns.per_user || []).length;
  if (!dns) return;
  pairs($("dns-facts"), [
    ["Queries", String(dns.queries)],
    ["Blocked (ads, trackers)", `${dns.blocked}${percent(dns.blocked, dns.queries)}`],
    ["From the cache", `${dns.cache_hits}${percent(dns.cache_hits, dns.queries)}`],
    ["Failed", `${dns.servfail} (timeouts ${dns.timeouts})`],
    ["Upstream", (dns.upstream_ok ? "answering" : `failing: ${dns.problem}`) +
                 (dns.encryption ? ", encrypted" : "")],
  ]);
  $("dns-users").querySelector("tbody").replaceChildren(...dns.per_user.map((u) => {
    const tr = document.createElement("tr");
    tr.append(cell("User", u.name), cell("Queries", String(u.queries)),
              cell("Blocked", `${u.blocked}${percent(u.blocked, u.queries)}`));
    return tr;
  }));
}

async function loadServer() {
  try {
    renderServer(await api("GET", "server"));
    clearError("server");
    $("server-updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (!sessionEnded(e)) showError("server", e);
  }
}

const FINDING_BADGE = { ok: "on", info: "idle", warn: "warn", fail: "off" };

function renderDoctor(d) {
  const running = !!d.running;
  $("doctor-run").disabled = running;
  if (running) {
    $("doctor-state").textContent = "Running the checks… (up to two minutes)";
  } else if (d.ran_at) {
    $("doctor-state").textContent = `Checked ${new Date(d.ran_at * 1000).toLocaleString()}.`;
  }
  if (d.error) showError("doctor", new ApiError(0, `The doctor did not finish: ${d.error}`));
  $("doctor-findings").replaceChildren(...(d.findings || []).map((f) => {
    const li = document.createElement("li");
    li.dataset.status = f.status;
    const badge = document.createElement("span");
    badge.className = "badge " + (FINDING_BADGE[f.status] || "idle");
    badge.textContent = f.status;
    const summary = document.createElement("span");
    summary.textContent = " " + f.summary;
    li.append(badge, summary);
    for (const [text, cls] of [[f.detail, "muted small"], [f.fix, "fix"]]) {
      if (!text) continue;
      const p = document.createElement(cls === "fix" ? "pre" : "p");
      p.className = cls;
      p.textContent = text;
      li.append(p);
    }
    return li;
  }));
  return running;
}

async function pollDoctor() {
  try {
    const running = renderDoctor(await api("GET", "server/doctor"));
    if (running && location.pathname === "/server") setTimeout(pollDoctor, DOCTOR_POLL_MS);
  } catch (e) {
    if (!sessionEnded(e)) showError("doctor", e);
  }
}

async function runDoctor() {
  clearError("doctor");
  try {
    renderDoctor(await api("POST", "server/doctor", {}));
    setTimeout(pollDoctor, DOCTOR_POLL_MS);
  } catch (e) {
    if (!sessionEnded(e)) showError("doctor", e);
  }
}

function showServer() {
  showScreen("server");
  loadServer();
  pollDoctor();
}

function initServerPage() {
  $("doctor-run").addEventListener("click", runDoctor);
}
