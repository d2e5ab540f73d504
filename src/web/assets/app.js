// The web admin: one page, five screens (setup, sign in, users, one user, a one-time link),
// talking JSON to /api/v1; the user panel's settings, traffic and links are in users_more.js.
// No framework and no build step: the files are embedded in the binary as they are.
//
// Everything shown that came from the server or the user is set with textContent, never parsed
// as HTML, and the page's Content-Security-Policy allows no inline script or style: a user name
// like "<img onerror=...>" stays text.
"use strict";

const REFRESH_MS = 5000; // how often the users list is reloaded while it is on screen

const state = {
  admin: "",
  role: "",
  csrf: "", // the session's CSRF token: sent as X-CSRF-Token on every request that changes something
  users: [],
  selected: "", // the user whose panel is open
  setupToken: "",
  setupSecret: "",
  timer: 0,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.field = field || "";
    this.retryAfter = retryAfter || "";
  }
}

// api("POST", "users", {name}) -> the parsed JSON answer, or throws ApiError with the answer's
// "error" and "field".
async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    if (state.csrf) options.headers["X-CSRF-Token"] = state.csrf;
    options.body = JSON.stringify(body || {});
  }
  let response;
  try {
    response = await fetch("/api/v1/" + path, options);
  } catch (e) {
    throw new ApiError(0, "cannot reach the server (" + e.message + ")");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null; // an empty or non-JSON answer: the status says enough
  }
  if (!response.ok) {
    const message = (data && data.error) || "the server answered " + response.status;
    throw new ApiError(response.status, message, data && data.field,
                       response.headers.get("Retry-After"));
  }
  return data || {};
}

const userPath = (name) => "users/" + encodeURIComponent(name);

// ---------------------------------------------------------------------------------------------
// Errors next to their forms

function clearError(key) {
  const p = document.querySelector(`[data-error-for="${key}"]`);
  if (p) {
    p.hidden = true;
    p.textContent = "";
  }
  const form = p && p.closest("form");
  if (form) form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
}

// showError("login", error): the message under the form, and the field it names marked and
// focused.
function showError(key, error) {
  const p = document.querySelector(`[data-error-for="${key}"]`);
  let text = error.message || String(error);
  if (error.status === 429 && error.retryAfter) text += ` (try again in ${error.retryAfter} s)`;
  if (p) {
    p.textContent = text;
    p.hidden = false;
  }
  const form = p && p.closest("form");
  const input = form && error.field && form.elements.namedItem(error.field);
  if (input && input.focus) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

// A signed-in request answered 401: the session ended (expired, signed out elsewhere, reset).
function sessionEnded(error) {
  if (error.status !== 401 || !state.admin) return false;
  signedOut();
  navigate("/login");
  showError("login", new ApiError(401, "Your session has ended; please sign in again."));
  return true;
}

// Disables a form's buttons while its request runs, so a double click sends it once.
async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---------------------------------------------------------------------------------------------
// Screens

const SCREENS = ["setup", "login", "users", "user", "get", "server", "admins", "tokens", "audit"];

function showScreen(...names) {
  $("loading").hidden = true;
  for (const s of SCREENS) $(s).hidden = !names.includes(s);
}

// The path decides the screen, so a reload or a bookmark comes back to the same one.
function navigate(path, replace) {
  if (location.pathname !== path) {
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
  }
  route();
}

async function route() {
  stopRefresh();
  const path = location.pathname;
  if (path === "/setup") return startSetup();
  if (path === "/get") return showGetPage(); // users_more.js; needs no account
  if (!state.admin) {
    try {
      signedIn(await api("GET", "session"));
    } catch (e) {
      if (e.status !== 401) {
        showScreen("login");
        showError("login", e);
        return;
      }
    }
  }
  if (!state.admin) {
    if (path !== "/login") history.replaceState(null, "", "/login");
    showScreen("login");
    $("login-form").elements.namedItem("name").focus();
    return;
  }
  // Admins, API tokens, the audit log: admin_pages.js; the server: server_page.js.
  if (window.waypostAdminPages && window.waypostAdminPages.show(path)) return;
  if (path === "/server") return showServer();
  if (path !== "/users") history.replaceState(null, "", "/users");
  showUsers();
}

function signedIn(who) {
  state.admin = who.admin;
  state.role = who.role;
  state.csrf = who.csrf_token || "";
  $("who").textContent = `${who.admin} (${who.role})`;
  $("who").hidden = false;
  $("signout").hidden = false;
  $("nav").hidden = false;
  // A viewer gets no buttons that would only answer 403.
  document.body.classList.toggle("read-only", who.role === "viewer");
  document.querySelectorAll("[data-needs=change]").forEach((e) => (e.hidden = who.role === "viewer"));
}

function signedOut() {
  state.admin = state.role = state.csrf = state.selected = "";
  state.users = [];
  $("who").hidden = true;
  $("signout").hidden = true;
  $("nav").hidden = true;
  $("users-body").replaceChildren();
  stopRefresh();
}

// ---------------------------------------------------------------------------------------------
// Setup (the one-time link: https://host:port/setup#TOKEN)

async function startSetup() {
  showScreen("setup");
  // The token is in the fragment, which the browser never sends anywhere. Take it out of the
  // address bar too, so that it is not left in the history or in a copied address.
  const token = decodeURIComponent(location.hash.slice(1));
  if (token) {
    state.setupToken = token;
    history.replaceState(null, "", "/setup");
  }
  if (!state.setupToken) {
    $("setup-intro").textContent = "";
    showError("setup-start", new ApiError(0,
      "This page needs the whole setup link, including the part after '#'. Open the link " +
      "again, or ask for a new one (waypost admins reset NAME)."));
    return;
  }
  try {
    const r = await api("POST", "setup/start", { token: state.setupToken });
    state.setupSecret = r.totp_secret;
    $("setup-intro").textContent = `Welcome, ${r.admin}. Three steps and you are in.`;
    $("setup-admin").textContent = r.admin;
    $("setup-username").value = r.admin;
    // Groups of four are easier to type into an app by hand.
    $("setup-secret").textContent = r.totp_secret.replace(/(.{4})(?=.)/g, "$1 ");
    $("setup-uri").textContent = r.otpauth_uri;
    // Drawn here (qr.js): the URI holds the secret and goes to no other service.
    const qr = window.waypostQr ? window.waypostQr(r.otpauth_uri) : null;
    if (qr) $("setup-qr").replaceChildren(qr);
    $("setup-form").hidden = false;
    $("setup-form").elements.namedItem("password").focus();
  } catch (e) {
    $("setup-intro").textContent = "";
    showError("setup-start", e);
  }
}

async function finishSetup(event) {
  event.preventDefault();
  const form = event.target;
  clearError("setup-finish");
  const password = form.elements.namedItem("password").value;
  if (password !== form.elements.namedItem("password2").value) {
    showError("setup-finish", new ApiError(400, "password2: the two passwords differ", "password2"));
    return;
  }
  await busy(form, async () => {
    try {
      const r = await api("POST", "setup/finish", {
        token: state.setupToken,
        password,
        totp_secret: state.setupSecret,
        code: form.elements.namedItem("code").value.replace(/\s/g, ""),
      });
      state.setupToken = state.setupSecret = "";
      form.reset();
      form.hidden = true;
      $("setup-intro").textContent = "Your account is ready.";
      $("recovery-codes").replaceChildren(...r.recovery_codes.map((c) => {
        const li = document.createElement("li");
        li.textContent = c;
        return li;
      }));
      $("setup-done").hidden = false;
    } catch (e) {
      showError("setup-finish", e);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Sign in and out

async function login(event) {
  event.preventDefault();
  const form = event.target;
  clearError("login");
  const value = (n) => form.elements.namedItem(n).value;
  await busy(form, async () => {
    try {
      const r = await api("POST", "login", {
        name: value("name").trim(),
        password: value("password"),
        code: value("code").trim(),
      });
      form.reset();
      signedIn(r);
      navigate("/users");
    } catch (e) {
      form.elements.namedItem("code").value = ""; // a code works once; a new one is needed
      showError("login", e);
    }
  });
}

async function logout() {
  try {
    await api("DELETE", "session");
  } catch (e) {
    if (e.status !== 401) {
      showError("users", e);
      return;
    }
  }
  signedOut();
  navigate("/login");
}

// ---------------------------------------------------------------------------------------------
// The users list

// Decimal units, as quotas and phone carriers count (the server's reasons use the same).
function formatBytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function formatAgo(unixSeconds) {
  if (!unixSeconds) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - unixSeconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

const PROTOCOL_NAMES = { wireguard: "WireGuard", ikev2: "IKEv2" };

// A user is enabled unless the server says otherwise.
const isEnabled = (u) => u.enabled !== false;

function stateText(u) {
  if (!isEnabled(u)) return u.disabled_reason ? `disabled: ${u.disabled_reason}` : "disabled";
  return u.online ? "online" : "offline";
}

function cell(label, text, className) {
  const td = document.createElement("td");
  td.dataset.label = label; // the card layout's caption on narrow screens (app.css)
  if (text !== undefined) td.textContent = text;
  if (className) td.className = className;
  return td;
}

function userRow(u) {
  const tr = document.createElement("tr");
  tr.dataset.user = u.name;
  if (!isEnabled(u)) tr.classList.add("disabled");
  const name = cell("Name", undefined, "name");
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = u.name;
  open.addEventListener("click", () => openUser(u.name));
  name.append(open);
  const st = cell("State", undefined, "state");
  const badge = document.createElement("span");
  badge.className = "badge " + (!isEnabled(u) ? "off" : u.online ? "on" : "idle");
  badge.textContent = stateText(u);
  st.append(badge);
  const seen = cell("Last handshake", formatAgo(u.last_handshake));
  if (u.last_handshake) seen.title = new Date(u.last_handshake * 1000).toLocaleString();
  const details = cell("", undefined, "row-actions");
  const more = document.createElement("button");
  more.type = "button";
  more.className = "secondary";
  more.textContent = "Profiles";
  more.addEventListener("click", () => openUser(u.name));
  details.append(more);
  tr.append(name,
            cell("Protocols", (u.protocols || []).map((p) => PROTOCOL_NAMES[p] || p).join(", ")),
            st, seen, cell("Endpoint", u.endpoint || "—", "endpoint"),
            cell("Received", formatBytes(u.rx_bytes || 0)), cell("Sent", formatBytes(u.tx_bytes || 0)),
            details);
  return tr;
}

function renderUsers() {
  $("users-body").replaceChildren(...state.users.map(userRow));
  $("users-empty").hidden = state.users.length > 0;
  $("users-table").hidden = state.users.length === 0;
  $("users-updated").textContent = "updated " + new Date().toLocaleTimeString();
  const open = state.users.find((u) => u.name === state.selected);
  if (open) renderUserState(open);
}

async function loadUsers() {
  try {
    const r = await api("GET", "users");
    state.users = r.users || [];
    clearError("users");
    // web.db could not be read: the list (from config.yaml) is whole, the extras are not.
    if (r.warning) showError("users", new ApiError(200, r.warning));
    renderUsers();
  } catch (e) {
    if (!sessionEnded(e)) showError("users", e);
  }
}

function showUsers() {
  showScreen(...(state.selected ? ["users", "user"] : ["users"]));
  loadUsers();
  // Online state, handshakes and byte counts change by themselves; a background tab does not
  // poll.
  state.timer = setInterval(() => {
    if (!document.hidden) loadUsers();
  }, REFRESH_MS);
}

function stopRefresh() {
  if (state.timer) clearInterval(state.timer);
  state.timer = 0;
}

async function addUser(event) {
  event.preventDefault();
  const form = event.target;
  clearError("add");
  await busy(form, async () => {
    try {
      const r = await api("POST", "users", {
        name: form.elements.namedItem("name").value.trim(),
        ...limitsFromForm(form), // users_more.js: expiry and quota, when given
      });
      form.reset();
      await loadUsers();
      if (r.user) openUser(r.user.name);
    } catch (e) {
      if (!sessionEnded(e)) showError("add", e);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// One user: QR code, profile downloads, disable / enable, delete

function renderUserState(u) {
  $("user-state").textContent = stateText(u);
  renderUsage(u); // users_more.js
  const toggle = $("user-toggle");
  toggle.textContent = isEnabled(u) ? "Disable" : "Enable";
  toggle.dataset.action = isEnabled(u) ? "disable" : "enable";
}

async function openUser(name) {
  const u = state.users.find((x) => x.name === name);
  if (!u) return;
  state.selected = name;
  clearError("user");
  $("user-confirm").hidden = true;
  $("user-title").textContent = name;
  renderUserState(u);
  openUserMore(u); // users_more.js: settings, one-time link, traffic
  $("user-qr").closest("figure").hidden = false;
  $("user-qr").src = `/api/v1/${userPath(name)}/qr.svg`;
  $("user-files").replaceChildren();
  showScreen("users", "user");
  $("user").scrollIntoView({ block: "nearest" });
  try {
    const r = await api("GET", `${userPath(name)}/files`);
    if (state.selected !== name) return; // another user was opened meanwhile
    $("user-files").replaceChildren(...(r.files || []).map((f) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      // Profiles may sit in folders ("apple/ios/NAME.mobileconfig"): each part encoded alone.
      const file = f.name.split("/").map(encodeURIComponent).join("/");
      a.href = `/api/v1/${userPath(name)}/files/${file}`;
      a.download = f.name.split("/").pop();
      a.textContent = f.name;
      const size = document.createElement("span");
      size.className = "muted small";
      size.textContent = ` ${formatBytes(f.size || 0)}`;
      li.append(a, size);
      return li;
    }));
  } catch (e) {
    if (!sessionEnded(e)) showError("user", e);
  }
}

function closeUser() {
  state.selected = "";
  $("user").hidden = true;
}

async function userAction(method, suffix, onDone) {
  const name = state.selected;
  clearError("user");
  const buttons = $("user").querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    const r = await api(method, userPath(name) + suffix, {});
    onDone(r, name);
  } catch (e) {
    if (!sessionEnded(e)) showError("user", e);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function toggleUser() {
  const action = $("user-toggle").dataset.action;
  userAction("POST", "/" + action, (r, name) => {
    const i = state.users.findIndex((u) => u.name === name);
    if (r.user && i >= 0) state.users[i] = r.user;
    renderUsers();
  });
}

function askDelete() {
  $("user-confirm-text").textContent =
    `Delete ${state.selected}? Their profiles stop working at once; this cannot be undone.`;
  $("user-confirm").hidden = false;
  $("user-confirm-no").focus();
}

function deleteUser() {
  userAction("DELETE", "", (r, name) => {
    state.users = state.users.filter((u) => u.name !== name);
    closeUser();
    renderUsers();
  });
}

// ---------------------------------------------------------------------------------------------

function init() {
  $("setup-form").addEventListener("submit", finishSetup);
  $("login-form").addEventListener("submit", login);
  $("add-form").addEventListener("submit", addUser);
  $("signout").addEventListener("click", logout);
  $("user-close").addEventListener("click", closeUser);
  // No QR code (a user without WireGuard, or an error): no broken image.
  $("user-qr").addEventListener("error", () => ($("user-qr").closest("figure").hidden = true));
  $("user-toggle").addEventListener("click", toggleUser);
  $("user-delete").addEventListener("click", askDelete);
  $("user-confirm-no").addEventListener("click", () => ($("user-confirm").hidden = true));
  $("user-confirm-yes").addEventListener("click", deleteUser);
  // Links inside the app (the setup page's "Continue to sign in") switch screens without a reload.
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[href^='/']");
    if (!a || a.hasAttribute("download") || a.pathname.startsWith("/api/")) return;
    event.preventDefault();
    navigate(a.pathname);
  });
  initUsersMore();
  initServerPage();
  window.addEventListener("popstate", route);
  route();
}

init();
