// The user panel's settings (name, note, expiry, monthly quota), its traffic chart and one-time
// links, and the page a one-time link opens (/get#TOKEN). Loaded before app.js, whose helpers
// (api, $, state, showError, ...) these functions use when they run.
//
// As in app.js, everything from the server or the user is set as text, never parsed as HTML;
// the chart is built as SVG elements, with no inline style (the page's CSP forbids it).
"use strict";

const GB = 1e9;
const SVG_NS = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------------------------------------
// Expiry and quota in forms: a date means the end of that day in the reader's zone; a quota is
// typed in GB.

function dateValue(unix) {
  if (!unix) return "";
  const d = new Date(unix * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function expiryOf(value) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return Math.floor(new Date(y, m - 1, d, 23, 59, 59).getTime() / 1000);
}

function quotaOf(value) {
  if (value === "" || value === null) return null;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.round(n * GB) : null;
}

// {expires, monthly_quota} from a form's fields, only those filled in (the add form).
function limitsFromForm(form) {
  const out = {};
  const expires = expiryOf(form.elements.namedItem("expires").value);
  const quota = quotaOf(form.elements.namedItem("monthly_quota").value);
  if (expires !== null) out.expires = expires;
  if (quota !== null) out.monthly_quota = quota;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Settings

function renderUsage(u) {
  let text = `This month: ${formatBytes(u.month_bytes || 0)}`;
  if (u.monthly_quota) text += ` of ${formatBytes(u.monthly_quota)}`;
  if (u.expires) text += `; expires ${new Date(u.expires * 1000).toLocaleString()}`;
  $("user-usage").textContent = text;
}

function fillSettings(u) {
  const f = $("user-settings");
  f.elements.namedItem("name").value = u.name;
  f.elements.namedItem("note").value = u.note || "";
  f.elements.namedItem("expires").value = dateValue(u.expires);
  f.elements.namedItem("monthly_quota").value = u.monthly_quota ? u.monthly_quota / GB : "";
  // A viewer reads the settings but cannot change them.
  for (const el of f.elements) if (el.name) el.readOnly = state.role === "viewer";
  clearError("user-settings");
}

async function saveSettings(event) {
  event.preventDefault();
  const form = event.target;
  const name = state.selected;
  clearError("user-settings");
  const value = (n) => form.elements.namedItem(n).value;
  const body = {
    note: value("note"),
    expires: expiryOf(value("expires")),
    monthly_quota: quotaOf(value("monthly_quota")),
  };
  const newName = value("name").trim();
  if (newName !== name) body.name = newName;
  await busy(form, async () => {
    try {
      const r = await api("PATCH", userPath(name), body);
      const i = state.users.findIndex((u) => u.name === name);
      if (i >= 0) state.users[i] = r.user;
      state.selected = r.user.name;
      $("user-title").textContent = r.user.name;
      renderUsers();
      if (newName !== name) openUser(r.user.name); // new file names (and an IKEv2 certificate)
    } catch (e) {
      if (!sessionEnded(e)) showError("user-settings", e);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// One-time links

async function makeLink() {
  clearError("user-link");
  $("user-link").disabled = true;
  try {
    const r = await api("POST", `${userPath(state.selected)}/links`, {});
    $("user-link-url").value = r.url;
    $("user-link-expires").textContent =
      `Works once, until ${new Date(r.expires * 1000).toLocaleString()}.`;
    $("user-link-box").hidden = false;
    $("user-link-url").select();
  } catch (e) {
    if (!sessionEnded(e)) showError("user-link", e);
  } finally {
    $("user-link").disabled = false;
  }
}

async function copyLink() {
  const input = $("user-link-url");
  try {
    await navigator.clipboard.writeText(input.value);
    $("user-link-copy").textContent = "Copied";
  } catch (e) {
    input.select(); // no clipboard access (plain http, an old browser): select it for Ctrl+C
  }
}

// ---------------------------------------------------------------------------------------------
// The traffic chart: one bar per bucket, received below sent, heights scaled to the busiest.

const PERIOD_LABELS = {
  minute: (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  hour: (d) => d.toLocaleString([], { weekday: "short", hour: "2-digit" }),
  day: (d) => d.toLocaleDateString([], { month: "short", day: "numeric" }),
  month: (d) => d.toLocaleDateString([], { year: "numeric", month: "short", timeZone: "UTC" }),
};

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function drawChart(points, period) {
  const width = 720;
  const height = 160;
  const bottom = 20; // room for the labels
  const max = Math.max(1, ...points.map((p) => p.rx + p.tx));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "bars",
                             preserveAspectRatio: "none" });
  const step = width / Math.max(1, points.length);
  const label = PERIOD_LABELS[period] || PERIOD_LABELS.hour;
  let total = 0;
  points.forEach((p, i) => {
    total += p.rx + p.tx;
    const x = i * step;
    const scale = (height - bottom) / max;
    const hRx = p.rx * scale;
    const hTx = p.tx * scale;
    const group = svg("g", {});
    const title = svg("title", {});
    title.textContent = `${label(new Date(p.start * 1000))}: received ${formatBytes(p.rx)}, ` +
                        `sent ${formatBytes(p.tx)}`;
    group.append(title,
                 svg("rect", { x: x + 1, y: height - bottom - hRx, width: Math.max(1, step - 2),
                               height: hRx, class: "rx" }),
                 svg("rect", { x: x + 1, y: height - bottom - hRx - hTx,
                               width: Math.max(1, step - 2), height: hTx, class: "tx" }));
    chart.append(group);
    // About six labels, whatever the number of bars.
    if (i % Math.max(1, Math.round(points.length / 6)) === 0) {
      const t = svg("text", { x: x + 1, y: height - 5, class: "axis" });
      t.textContent = label(new Date(p.start * 1000));
      chart.append(t);
    }
  });
  $("user-chart").replaceChildren(chart);
  $("user-chart-total").textContent =
    `${formatBytes(total)} in this view; the busiest bar is ${formatBytes(max)}. ` +
    "Dark: received from the user; light: sent to it.";
}

async function loadTraffic(period) {
  const name = state.selected;
  state.trafficPeriod = period;
  document.querySelectorAll("#user [data-period]").forEach((b) =>
    b.setAttribute("aria-pressed", String(b.dataset.period === period)));
  clearError("traffic");
  try {
    const r = await api("GET", `${userPath(name)}/traffic?period=${period}`);
    if (state.selected === name) drawChart(r.points || [], r.period);
  } catch (e) {
    if (!sessionEnded(e)) showError("traffic", e);
  }
}

// Called by app.js's openUser.
function openUserMore(u) {
  fillSettings(u);
  renderUsage(u);
  $("user-link-box").hidden = true;
  $("user-link-copy").textContent = "Copy";
  clearError("user-link");
  loadTraffic(state.trafficPeriod || "hour");
}

// ---------------------------------------------------------------------------------------------
// /get#TOKEN: a one-time link opened by someone without an account

async function showGetPage() {
  showScreen("get");
  // As with setup links, the token is in the fragment: out of the address bar and the history.
  const token = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", "/get");
  if (!token) {
    $("get-intro").textContent = "";
    showError("get", new ApiError(0, "This page needs the whole link, including the part " +
                                     "after '#'. Open the link again, or ask for a new one."));
    return;
  }
  try {
    const r = await api("POST", "links/redeem", { token });
    $("get-intro").textContent = `The VPN profile of ${r.user}.`;
    $("get-qr-figure").hidden = !r.qr_svg;
    if (r.qr_svg) {
      // A data: URL, which the page's CSP allows for images (blob: it does not).
      $("get-qr").src = "data:image/svg+xml;base64," + btoa(r.qr_svg);
    }
    $("get-files").replaceChildren(...(r.files || []).map((f) => {
      const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
      a.download = f.name;
      a.textContent = f.name;
      const li = document.createElement("li");
      li.append(a);
      return li;
    }));
    $("get-done").hidden = false;
  } catch (e) {
    $("get-intro").textContent = "";
    showError("get", e);
  }
}

function initUsersMore() {
  $("user-settings").addEventListener("submit", saveSettings);
  $("user-link").addEventListener("click", makeLink);
  $("user-link-copy").addEventListener("click", copyLink);
  document.querySelectorAll("#user [data-period]").forEach((b) =>
    b.addEventListener("click", () => loadTraffic(b.dataset.period)));
}
