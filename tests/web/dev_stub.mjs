// A stand-in for the web admin's server while working on the pages: serves src/web/assets/ as
// the daemon does (same paths, same Content-Security-Policy) and fakes /api/v1 in memory, over
// plain HTTP on loopback. Not a test and not the API's reference (src/web/router.h is); it only
// lets a page change be seen in a browser without building and starting a server.
//
//   node tests/web/dev_stub.mjs [PORT]      then open http://127.0.0.1:PORT/setup#devtoken
//
// Setup takes any password of 12+ characters; sign-in wants that password and a TOTP code of the
// secret shown (or 123456); the name "viewer" signs in as a viewer.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { totp, totpStep } from "./totp.mjs";

const ASSETS = new URL("../../src/web/assets/", import.meta.url);
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const TYPES = { html: "text/html; charset=utf-8", css: "text/css; charset=utf-8",
                js: "text/javascript; charset=utf-8" };
const now = () => Math.floor(Date.now() / 1000);
const sessions = new Map(); // token -> {admin, role, csrf}
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
let password = "";
const codeOk = (c) => c === "123456" || [-1, 0, 1].some((d) => totp(SECRET, totpStep() + d) === c);
const user = (name, extra) => ({ name, ipv4: "10.49.0.9", ipv6: "", protocols: ["wireguard"],
  enabled: true, disabled_reason: "", online: false, last_handshake: 0, endpoint: "",
  rx_bytes: 0, tx_bytes: 0, ...extra });
const users = [
  user("phone", { ipv4: "10.49.0.2", protocols: ["wireguard", "ikev2"], online: true,
                  last_handshake: now() - 42, endpoint: "198.51.100.7:51820",
                  rx_bytes: 123456789, tx_bytes: 9876543 }),
  user("laptop-with-a-rather-long-name", { ipv4: "10.49.0.3", enabled: false,
                                            disabled_reason: "by alice" }),
];

// Admins, API tokens and the audit log (admin_pages.js), as loosely as the rest.
const admins = [{ name: "alice", role: "owner", state: "active", created: now() - 86400 * 30, last_login: now() - 60 },
                { name: "viewer", role: "viewer", state: "active", created: now() - 86400, last_login: 0 }];
const tokens = [];
const audit = Array.from({ length: 230 }, (_, i) => ({ id: i + 1, time: now() - (230 - i) * 600, actor: "alice",
  action: i % 3 ? "user.download" : "login", target: "phone", detail: i % 3 ? "phone.conf" : "from 198.51.100.7" }));
const log = (session, action, target, detail = "") =>
  audit.push({ id: audit.length + 1, time: now(), actor: session.admin, action, target, detail });

function adminApi(req, res, path, body, session, query) {
  const owner = session.role === "owner";
  if (path === "admins" && req.method === "GET") return send(res, 200, { admins });
  if (path === "admins" && req.method === "POST") {
    if (!owner) return send(res, 403, { error: "owners only" });
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(body.name || "")) return send(res, 400, { error: "name: letters, digits and _ . @ -", field: "name" });
    if (!["owner", "admin", "viewer"].includes(body.role)) return send(res, 400, { error: "role: expected owner, admin or viewer", field: "role" });
    if (admins.some((a) => a.name === body.name)) return send(res, 409, { error: `there is already an admin named '${body.name}'`, field: "name" });
    const a = { name: body.name, role: body.role, state: "setup pending", created: now(), last_login: 0 };
    admins.push(a);
    log(session, "admin.add", a.name, `role ${a.role}`);
    return send(res, 201, { admin: a, setup_link: `http://${req.headers.host}/setup#${randomBytes(16).toString("hex")}` });
  }
  const m = /^admins\/([^/]+)(\/reset)?$/.exec(path);
  if (m) {
    const a = admins.find((x) => x.name === decodeURIComponent(m[1]));
    if (!owner) return send(res, 403, { error: "owners only" });
    if (!a) return send(res, 404, { error: "no such admin" });
    const owners = admins.filter((x) => x.role === "owner").length;
    if (m[2]) return send(res, 200, { admin: a.name, setup_link: `http://${req.headers.host}/setup#${randomBytes(16).toString("hex")}` });
    if ((req.method === "DELETE" || body.role !== "owner") && a.role === "owner" && owners < 2) {
      return send(res, 409, { error: `'${a.name}' is the last owner` });
    }
    if (req.method === "DELETE") {
      admins.splice(admins.indexOf(a), 1);
      return send(res, 200, { removed: a.name });
    }
    a.role = body.role;
    return send(res, 200, { admin: a });
  }
  if (path === "tokens" && req.method === "GET") return send(res, 200, { tokens: tokens.filter((t) => t.admin === session.admin) });
  if (path === "tokens" && req.method === "POST") {
    if (!body.label) return send(res, 400, { error: "label: missing", field: "label" });
    const t = { id: tokens.length + 1, admin: session.admin, label: body.label, created: now(), last_used: 0, revoked: 0 };
    tokens.push(t);
    log(session, "token.create", session.admin, `token ${t.id} '${t.label}'`);
    return send(res, 201, { id: t.id, label: t.label, token: "wpat_" + randomBytes(32).toString("hex") });
  }
  const tm = /^tokens\/(\d+)$/.exec(path);
  if (tm && req.method === "DELETE") {
    const t = tokens.find((x) => x.id === Number(tm[1]) && x.admin === session.admin && !x.revoked);
    if (!t) return send(res, 404, { error: "no such token" });
    t.revoked = now();
    return send(res, 200, { revoked: t.id });
  }
  if (path === "audit") {
    if (session.role === "viewer") return send(res, 403, { error: "your role (viewer) may not read the audit log" });
    const limit = Number(query.get("limit") || 100);
    const before = Number(query.get("before") || 0);
    const older = audit.filter((e) => !before || e.id < before).reverse();
    const entries = older.slice(0, limit);
    return send(res, 200, { entries, next_before: older.length > limit ? entries[entries.length - 1].id : null });
  }
  return null;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store",
                          "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
                          ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

function api(req, res, path, body) {
  const cookie = /waypost_session=([^;]+)/.exec(req.headers.cookie || "");
  const session = cookie && sessions.get(cookie[1]);
  if (path === "setup/start") {
    return send(res, 200, { admin: "alice", totp_secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                            otpauth_uri: "otpauth://totp/Waypost%20(dev):alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Waypost" });
  }
  if (path === "setup/finish") {
    if ((body.password || "").length < 12) return send(res, 400, { error: "password: too short", field: "password" });
    if (!codeOk(body.code)) return send(res, 400, { error: "code: wrong code", field: "code" });
    password = body.password;
    return send(res, 200, { recovery_codes: Array.from({ length: 10 }, () => randomBytes(8).toString("hex").replace(/(.{4})(?=.)/g, "$1-")) });
  }
  if (path === "login") {
    if (!codeOk(body.code) || (password && body.password !== password)) return send(res, 401, { error: "wrong name, password or code" });
    const token = randomBytes(16).toString("hex");
    const s = { admin: body.name, role: body.name === "viewer" ? "viewer" : "owner", csrf: randomBytes(16).toString("hex") };
    sessions.set(token, s);
    return send(res, 200, { admin: s.admin, role: s.role, csrf_token: s.csrf, expires: now() + 43200 },
                { "Set-Cookie": `waypost_session=${token}; Path=/; HttpOnly; SameSite=Strict` });
  }
  if (!session) return send(res, 401, { error: "not signed in" });
  if (req.method !== "GET" && req.headers["x-csrf-token"] !== session.csrf) {
    return send(res, 403, { error: "missing or wrong X-CSRF-Token header" });
  }
  if (path === "session") {
    if (req.method === "GET") return send(res, 200, { admin: session.admin, role: session.role, via: "session", csrf_token: session.csrf });
    sessions.delete(cookie[1]);
    return send(res, 200, { signed_out: true });
  }
  if (/^(admins|tokens|audit)(\/|$)/.test(path)) {
    if (adminApi(req, res, path, body, session, new URL(req.url, "http://x").searchParams) !== null) return;
    return send(res, 404, { error: "no such API path" });
  }
  if (path === "users" && req.method === "GET") return send(res, 200, { users });
  if (path === "users" && req.method === "POST") {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(body.name || "")) return send(res, 400, { error: "name: letters, digits, - and _ only", field: "name" });
    if (users.some((u) => u.name === body.name)) return send(res, 409, { error: `${body.name} exists already`, field: "name" });
    const u = user(body.name);
    users.push(u);
    return send(res, 201, { user: u });
  }
  const m = /^users\/([^/]+)(\/.*)?$/.exec(path);
  const u = m && users.find((x) => x.name === decodeURIComponent(m[1]));
  if (!u) return send(res, 404, { error: "no such user" });
  const rest = m[2] || "";
  if (rest === "" && req.method === "DELETE") {
    users.splice(users.indexOf(u), 1);
    return send(res, 200, { deleted: u.name });
  }
  if (rest === "/disable" || rest === "/enable") {
    u.enabled = rest === "/enable";
    u.disabled_reason = u.enabled ? "" : `by ${session.admin}`;
    return send(res, 200, { user: u });
  }
  if (rest === "/files") return send(res, 200, { files: [{ name: `${u.name}.conf`, size: 321 }, { name: `apple/ios/${u.name}.mobileconfig`, size: 4321 }] });
  if (rest.startsWith("/files/")) {
    return send(res, 200, `[Interface]\n# ${u.name}\n`, { "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename="${rest.split("/").pop()}"` });
  }
  if (rest === "/qr.svg") {
    return send(res, 200, '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="2" height="2"/><rect x="2" y="2" width="2" height="2"/></svg>',
                { "Content-Type": "image/svg+xml" });
  }
  return send(res, 404, { error: "no such API path" });
}

createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    if (path.startsWith("/api/v1/")) {
      let json = {};
      try { json = body ? JSON.parse(body) : {}; } catch { return send(res, 400, { error: "bad JSON" }); }
      return api(req, res, path.slice(8), json);
    }
    const name = ["/", "/setup", "/login", "/users", "/admins", "/tokens", "/audit"].includes(path) ? "index.html"
      : path.startsWith("/assets/") ? path.slice(8) : "";
    try {
      const data = readFileSync(new URL(name, ASSETS));
      res.writeHead(200, { "Content-Type": TYPES[name.split(".").pop()] || "application/octet-stream",
                           "Content-Security-Policy": CSP, "Cache-Control": "no-store" });
      res.end(data);
    } catch {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
    }
  });
}).listen(Number(process.argv[2] || 8080), "127.0.0.1");
