// The admins, API tokens and audit log screens of the web admin. Loaded before app.js (both
// deferred, so in order), because app.js routes as soon as it runs: this file only defines its
// screens and wires its forms, and calls app.js's helpers (api, state, showScreen, showError,
// clearError, sessionEnded, busy, navigate, formatAgo) when a screen is shown, by which time they
// exist. app.js asks window.waypostAdminPages.show(path) which screen to show.
//
// As in app.js, everything from the server or a form is set with textContent, never parsed as
// HTML, and nothing here needs inline script or style.
"use strict";

(() => {
  const el = (id) => document.getElementById(id);
  const PAGES = ["/admins", "/tokens", "/audit"];
  const AUDIT_PAGE = 100;

  const page = {
    admins: [],
    tokens: [],
    auditBefore: null, // the "before" of the next older audit page; null: no older entries
    confirmAction: null, // what the open confirmation does on "yes"
  };

  const isOwner = () => state.role === "owner";
  const mayReadAudit = () => state.role === "owner" || state.role === "admin";
  const adminPath = (name) => "admins/" + encodeURIComponent(name);

  function formatTime(unixSeconds) {
    return unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : "never";
  }

  function td(label, text, className) {
    const c = document.createElement("td");
    c.dataset.label = label; // the card layout's caption on narrow screens (app.css)
    if (text !== undefined) c.textContent = text;
    if (className) c.className = className;
    return c;
  }

  function button(text, className, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  // Shows a secret once (a setup link, an API token) with a copy button.
  function showOnce(prefix, intro, value) {
    el(`${prefix}-intro`).textContent = intro;
    el(`${prefix}-value`).textContent = value;
    el(`${prefix}-copied`).textContent = "";
    el(prefix).hidden = false;
    el(`${prefix}-copy`).focus();
  }

  function hideOnce(prefix) {
    el(`${prefix}-value`).textContent = "";
    el(prefix).hidden = true;
  }

  async function copyOnce(prefix) {
    const value = el(`${prefix}-value`).textContent;
    const note = el(`${prefix}-copied`);
    try {
      await navigator.clipboard.writeText(value);
      note.textContent = "Copied.";
    } catch (e) {
      // No clipboard access (permissions, an old browser): select the text for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(el(`${prefix}-value`));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      note.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
    }
  }

  // A confirmation under a list: `text`, a danger button labelled `yes` that runs `action`.
  function confirmAction(prefix, text, yes, action) {
    page.confirmAction = action;
    el(`${prefix}-confirm-text`).textContent = text;
    el(`${prefix}-confirm-yes`).textContent = yes;
    el(`${prefix}-confirm`).hidden = false;
    el(`${prefix}-confirm-no`).focus();
  }

  function closeConfirm(prefix) {
    page.confirmAction = null;
    el(`${prefix}-confirm`).hidden = true;
  }

  async function runConfirmed(prefix) {
    const action = page.confirmAction;
    closeConfirm(prefix);
    if (action) await action();
  }

  // Runs one request of a screen, its error shown under the screen's list.
  async function act(errorKey, work) {
    clearError(errorKey);
    try {
      await work();
    } catch (e) {
      if (!sessionEnded(e)) showError(errorKey, e);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Admins

  const STATE_BADGE = { active: "on", "setup pending": "idle", disabled: "off" };

  function adminRow(a) {
    const tr = document.createElement("tr");
    tr.dataset.admin = a.name;
    // One element in the cell, so the phone layout's caption and value stay two flex items.
    const name = td("Name", undefined, "name");
    const label = document.createElement("span");
    label.textContent = a.name;
    if (a.name === state.admin) {
      const you = document.createElement("span");
      you.className = "muted small";
      you.textContent = " (you)";
      label.append(you);
    }
    name.append(label);
    const role = td("Role", undefined, "role");
    if (isOwner()) {
      const select = document.createElement("select");
      select.name = "role";
      select.setAttribute("aria-label", `Role of ${a.name}`);
      for (const r of ["owner", "admin", "viewer"]) select.add(new Option(r, r, false, r === a.role));
      select.addEventListener("change", () => changeRole(a.name, select));
      role.append(select);
    } else {
      role.textContent = a.role;
    }
    const st = td("State", undefined, "state");
    const badge = document.createElement("span");
    badge.className = "badge " + (STATE_BADGE[a.state] || "idle");
    badge.textContent = a.state;
    st.append(badge);
    const actions = td("", undefined, "row-actions");
    if (isOwner()) {
      actions.append(
        button("Reset…", "secondary", () => confirmAction("admin",
          `Reset ${a.name}? Their password, authenticator and recovery codes are forgotten and ` +
          "their sessions end; they set up again with a new link.", "Reset", () => resetAdmin(a.name))),
        a.state === "disabled"
          ? button("Enable", "secondary", () => setAdminDisabled(a.name, false))
          : button("Disable…", "secondary", () => confirmAction("admin",
            `Disable ${a.name}? They cannot sign in and their sessions and API tokens stop ` +
            "working until you enable them again; nothing else is lost.", "Disable",
            () => setAdminDisabled(a.name, true))),
        button("Remove…", "danger", () => confirmAction("admin",
          `Remove ${a.name}? Their sessions and API tokens end at once; this cannot be undone.`,
          "Remove", () => removeAdmin(a.name))));
    }
    tr.append(name, role, st, td("Created", formatTime(a.created)),
              td("Last sign-in", formatAgo(a.last_login)), actions);
    return tr;
  }

  function renderAdmins() {
    el("admins-body").replaceChildren(...page.admins.map(adminRow));
  }

  async function loadAdmins() {
    await act("admins", async () => {
      const r = await api("GET", "admins");
      page.admins = r.admins || [];
      renderAdmins();
    });
  }

  function showAdmins() {
    el("admin-add-form").hidden = !isOwner();
    closeConfirm("admin");
    showScreen("admins");
    loadAdmins();
  }

  async function addAdmin(event) {
    event.preventDefault();
    const form = event.target;
    clearError("admin-add");
    hideOnce("admin-link");
    await busy(form, async () => {
      try {
        const r = await api("POST", "admins", {
          name: form.elements.namedItem("name").value.trim(),
          role: form.elements.namedItem("role").value,
        });
        form.reset();
        showOnce("admin-link", `Setup link for ${r.admin.name} (${r.admin.role}): valid for 24 ` +
                 "hours and works once. Send it privately; it is not shown again.", r.setup_link);
        await loadAdmins();
      } catch (e) {
        if (!sessionEnded(e)) showError("admin-add", e);
      }
    });
  }

  async function changeRole(name, select) {
    select.disabled = true;
    await act("admins", async () => {
      try {
        await api("PATCH", adminPath(name), { role: select.value });
      } finally {
        select.disabled = false;
        // The server's word either way: a refused change (the last owner) snaps back.
        await loadAdmins();
      }
    });
    // Demoting oneself takes effect at once: the page follows the new role.
    if (name === state.admin) {
      const who = await api("GET", "session").catch(() => null);
      if (who) signedIn(who);
      if (who && !isOwner()) showAdmins();
    }
  }

  async function resetAdmin(name) {
    hideOnce("admin-link");
    await act("admins", async () => {
      const r = await api("POST", adminPath(name) + "/reset", {});
      if (name === state.admin) {
        // Our own sessions ended with the reset.
        sessionEnded(new ApiError(401, "reset"));
        return;
      }
      showOnce("admin-link", `New setup link for ${r.admin}: valid for 24 hours and works once. ` +
               "Send it privately; it is not shown again.", r.setup_link);
      await loadAdmins();
    });
  }

  async function setAdminDisabled(name, disabled) {
    await act("admins", async () => {
      await api("POST", adminPath(name) + (disabled ? "/disable" : "/enable"), {});
      if (disabled && name === state.admin) {
        sessionEnded(new ApiError(401, "disabled"));
        return;
      }
      await loadAdmins();
    });
  }

  async function removeAdmin(name) {
    await act("admins", async () => {
      await api("DELETE", adminPath(name), {});
      if (name === state.admin) {
        sessionEnded(new ApiError(401, "removed"));
        return;
      }
      await loadAdmins();
    });
  }

  // -------------------------------------------------------------------------------------------
  // API tokens

  function tokenRow(t) {
    const tr = document.createElement("tr");
    tr.dataset.token = String(t.id);
    if (t.revoked) tr.classList.add("disabled");
    const st = td("State", undefined, "state");
    const badge = document.createElement("span");
    badge.className = "badge " + (t.revoked ? "off" : "on");
    badge.textContent = t.revoked ? "revoked " + formatTime(t.revoked) : "valid";
    st.append(badge);
    const actions = td("", undefined, "row-actions");
    if (!t.revoked) {
      actions.append(button("Revoke…", "danger", () => confirmAction("token",
        `Revoke "${t.label}"? Scripts using it get 401 from now on; this cannot be undone.`,
        "Revoke", () => revokeToken(t.id))));
    }
    tr.append(td("Label", t.label, "name"), td("Created", formatTime(t.created)),
              td("Last used", formatAgo(t.last_used)), st, actions);
    return tr;
  }

  function renderTokens() {
    // Valid ones first, newest first within each.
    const sorted = [...page.tokens].sort((a, b) => Boolean(a.revoked) - Boolean(b.revoked) || b.id - a.id);
    el("tokens-body").replaceChildren(...sorted.map(tokenRow));
    el("tokens-empty").hidden = page.tokens.length > 0;
    el("tokens-table").hidden = page.tokens.length === 0;
  }

  async function loadTokens() {
    await act("tokens", async () => {
      const r = await api("GET", "tokens");
      page.tokens = r.tokens || [];
      renderTokens();
    });
  }

  function showTokens() {
    closeConfirm("token");
    showScreen("tokens");
    loadTokens();
  }

  async function createToken(event) {
    event.preventDefault();
    const form = event.target;
    clearError("token-add");
    hideOnce("token-new");
    await busy(form, async () => {
      try {
        const r = await api("POST", "tokens", { label: form.elements.namedItem("label").value.trim() });
        form.reset();
        showOnce("token-new", `Your new token "${r.label}". Copy it now: it is not shown again. ` +
                 `It acts as you (${state.role}); send it as "Authorization: Bearer TOKEN".`, r.token);
        await loadTokens();
      } catch (e) {
        if (!sessionEnded(e)) showError("token-add", e);
      }
    });
  }

  async function revokeToken(id) {
    await act("tokens", async () => {
      await api("DELETE", "tokens/" + encodeURIComponent(id), {});
      await loadTokens();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Audit log

  function auditRow(e) {
    const tr = document.createElement("tr");
    tr.dataset.entry = String(e.id);
    const time = td("Time", formatTime(e.time));
    tr.append(time, td("Actor", e.actor), td("Action", e.action, "action"),
              td("Target", e.target || "—"), td("Detail", e.detail || "—", "detail"));
    return tr;
  }

  // Loads the newest page (older: false) or appends the next older one.
  async function loadAudit(older) {
    await act("audit", async () => {
      let path = `audit?limit=${AUDIT_PAGE}`;
      if (older && page.auditBefore !== null) path += `&before=${page.auditBefore}`;
      const r = await api("GET", path);
      const rows = (r.entries || []).map(auditRow);
      if (older) el("audit-body").append(...rows);
      else el("audit-body").replaceChildren(...rows);
      page.auditBefore = r.next_before === undefined ? null : r.next_before;
      el("audit-older").hidden = page.auditBefore === null;
      el("audit-empty").hidden = el("audit-body").children.length > 0;
    });
  }

  function showAudit() {
    showScreen("audit");
    page.auditBefore = null;
    loadAudit(false);
  }

  // -------------------------------------------------------------------------------------------

  function markNav(path) {
    document.querySelectorAll("#nav a").forEach((a) => {
      if (a.getAttribute("href") === path) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  // Shows the screen for `path` if it is one of these (true), for a signed-in admin.
  function show(path) {
    const mine = PAGES.includes(path) && (path !== "/audit" || mayReadAudit());
    // The server screen (server_page.js) is shown by app.js right after this returns false.
    markNav(mine || path === "/server" ? path : "/users");
    if (!mine) return false;
    if (path === "/admins") showAdmins();
    else if (path === "/tokens") showTokens();
    else showAudit();
    return true;
  }

  function init() {
    el("admin-add-form").addEventListener("submit", addAdmin);
    el("token-form").addEventListener("submit", createToken);
    for (const prefix of ["admin-link", "token-new"]) {
      el(`${prefix}-copy`).addEventListener("click", () => copyOnce(prefix));
      el(`${prefix}-done`).addEventListener("click", () => hideOnce(prefix));
    }
    for (const prefix of ["admin", "token"]) {
      el(`${prefix}-confirm-no`).addEventListener("click", () => closeConfirm(prefix));
      el(`${prefix}-confirm-yes`).addEventListener("click", () => runConfirmed(prefix));
    }
    el("audit-older").addEventListener("click", () => loadAudit(true));
    el("audit-refresh").addEventListener("click", () => loadAudit(false));
  }

  init();
  window.waypostAdminPages = { show };
})();
