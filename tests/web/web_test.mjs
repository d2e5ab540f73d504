// The web admin in a real browser: Debian's chromium, headless, driven by playwright-core (which
// downloads no browser). tests/netns/test_web.sh runs one step per invocation, in a network
// namespace that reaches the server, and does the network checks (ping, QR, files) between them:
//
//   node web_test.mjs STEP        STEP: setup | login | add | disable | enable | link | server |
//                                       expired | checks | viewer | admins | ratelimit
//
// Environment: WEB_BASE (https://host:port), WEB_OUT (a scratch directory: screenshots, the QR
// PNG, downloads, state between steps), WEB_SETUP_LINK (setup, viewer), WEB_ADMIN,
// WEB_PASSWORD, WEB_USER (the VPN user the page adds: add, disable, enable).
//
// Each result is one line on stdout, "PASS: ..." or "FAIL: ...", which test_web.sh counts; the
// exit status is non-zero when a step could not go on. Every wait is bounded.
import { chromium, request as apiRequest } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfTest, totp, totpStep } from "./totp.mjs";

const env = process.env;
const BASE = env.WEB_BASE;
const OUT = env.WEB_OUT;
const ADMIN = env.WEB_ADMIN || "alice";
const PASSWORD = env.WEB_PASSWORD || "correct horse battery staple";
const USER = env.WEB_USER || "tablet";
const WAIT_MS = 15000; // the longest any one page action may take
const STATE = () => join(OUT, "web-state.json");
const COOKIES = () => join(OUT, "web-cookies.json");

let failures = 0;
const pass = (msg) => console.log(`PASS: ${msg}`);
const fail = (msg) => {
  failures++;
  console.log(`FAIL: ${msg}`);
};
const check = (ok, msg, detail = "") => (ok ? pass(msg) : fail(detail ? `${msg} (${detail})` : msg));

const readState = () => {
  try {
    return JSON.parse(readFileSync(STATE(), "utf8"));
  } catch {
    return {};
  }
};
const saveState = (patch) => writeFileSync(STATE(), JSON.stringify({ ...readState(), ...patch }));

// A browser for one step: a fresh profile directory each time, the session cookie carried over
// from the previous step in a file. Chromium only: no downloads, no sync, no QUIC, no GPU.
async function withBrowser(work, { viewport = { width: 1200, height: 800 }, cookies = true,
                                  saveCookies = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "waypost-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    ignoreHTTPSErrors: true, // the server's self-signed certificate
    acceptDownloads: true,
    viewport,
    timeout: 30000,
  });
  context.setDefaultTimeout(WAIT_MS);
  try {
    if (cookies) {
      try {
        await context.addCookies(JSON.parse(readFileSync(COOKIES(), "utf8")));
      } catch {
        // no session yet
      }
    }
    const page = context.pages()[0] || (await context.newPage());
    // The pages' CSP must never have to block anything they do, and no script may fail.
    page.on("console", (m) => {
      if (m.type() === "error" && /Content.Security.Policy|Refused to/i.test(m.text())) {
        fail(`the page broke its own Content-Security-Policy: ${m.text()}`);
      }
    });
    page.on("pageerror", (e) => fail(`script error on the page: ${e.message}`));
    try {
      await work(page, context);
    } catch (e) {
      // What the page showed when the step gave up, for the log directory.
      await page.screenshot({ path: join(OUT, `failed-${process.argv[2]}.png`), fullPage: true })
        .catch(() => {});
      throw e;
    }
    // A step that signs in saves its session for the next; a stranger's browser (cookies:
    // false, e.g. opening a one-time link) must not overwrite it with nothing.
    if (cookies || saveCookies) writeFileSync(COOKIES(), JSON.stringify(await context.cookies()));
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const shot = (page, name, options = {}) =>
  page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true, ...options });

// A PNG of one element as the browser renders it, at three device pixels per CSS pixel so that
// each module of a QR code is several pixels wide for zbarimg.
async function captureElement(page, locator, file) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.evaluate((e) => {
    const r = e.getBoundingClientRect();
    return { x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height };
  });
  const cdp = await page.context().newCDPSession(page);
  const { data } = await cdp.send("Page.captureScreenshot", { format: "png", clip: { ...box, scale: 3 } });
  writeFileSync(file, Buffer.from(data, "base64"));
  await cdp.detach();
}

// Waits for the error line of a form and returns its text.
async function formError(page, key) {
  const p = page.locator(`[data-error-for="${key}"]`);
  await p.waitFor({ state: "visible" });
  return (await p.textContent()).trim();
}

// The page's own fetch, with or without the CSRF header: what a cross-site request could send.
const pageFetch = (page, method, path, headers = {}) =>
  page.evaluate(async ([m, p, h]) => {
    const r = await fetch(p, { method: m, headers: { "Content-Type": "application/json", ...h },
                               body: m === "GET" ? undefined : "{}" });
    return { status: r.status, csp: r.headers.get("Content-Security-Policy"),
             body: await r.text() };
  }, [method, path, headers]);

// ---------------------------------------------------------------------------------------------

const steps = {
  // The setup link: the page reads the token from the fragment, shows the TOTP secret, takes a
  // password and a code, and shows the recovery codes once.
  async setup() {
    await withBrowser(async (page) => {
      await page.goto(env.WEB_SETUP_LINK);
      await page.locator("#setup-form").waitFor({ state: "visible" });
      check(new URL(page.url()).hash === "", "setup: the token is taken out of the address bar");
      const secret = (await page.locator("#setup-secret").textContent()).replace(/\s/g, "");
      const uri = await page.locator("#setup-uri").textContent();
      check(/^[A-Z2-7]{32}$/.test(secret), "setup: a 160-bit base32 TOTP secret is shown", secret);
      check(uri.startsWith("otpauth://totp/") && uri.includes(`secret=${secret}`),
            "setup: the otpauth:// URI carries the secret", uri);
      await shot(page, "setup");
      // The page draws the URI as a QR code itself (qr.js); test_web.sh decodes it.
      await captureElement(page, page.locator("#setup-qr svg"), join(OUT, "setup-qr.png"));
      writeFileSync(join(OUT, "setup-uri.txt"), uri);
      const form = page.locator("#setup-form");
      await form.locator("[name=password]").fill(PASSWORD);
      await form.locator("[name=password2]").fill(PASSWORD);
      // A code far from now is wrong: the answer names the field, next to the form.
      await form.locator("[name=code]").fill(totp(secret, totpStep() + 20));
      await form.locator("button[type=submit]").click();
      const error = await formError(page, "setup-finish");
      check(/code/i.test(error), "setup: a wrong code is refused next to the form", error);
      check(await form.locator("[name=code][aria-invalid=true]").count() === 1,
            "setup: the code field is marked");
      const step = totpStep();
      await form.locator("[name=code]").fill(totp(secret, step));
      await form.locator("button[type=submit]").click();
      await page.locator("#setup-done").waitFor({ state: "visible" });
      const codes = await page.locator("#recovery-codes li").allTextContents();
      check(codes.length === 10, "setup: ten recovery codes are shown", `${codes.length}`);
      await shot(page, "setup-done");
      saveState({ secret, lastStep: step });
    }, { cookies: false });
  },

  // Sign-in: a wrong password and a wrong code are refused on the page, the right ones let in.
  async login() {
    const { secret, lastStep } = readState();
    await withBrowser(async (page) => {
      await page.goto(`${BASE}/`);
      const form = page.locator("#login-form");
      await form.waitFor({ state: "visible" });
      check(new URL(page.url()).pathname === "/login", "login: / sends a stranger to /login");
      await shot(page, "login");
      const attempt = async (password, code) => {
        await form.locator("[name=name]").fill(ADMIN);
        await form.locator("[name=password]").fill(password);
        await form.locator("[name=code]").fill(code);
        await form.locator("button[type=submit]").click();
      };
      await attempt("not the password at all", totp(secret, totpStep() + 20));
      let error = await formError(page, "login");
      check(/wrong name, password or code/.test(error), "login: a wrong password is refused", error);
      await page.locator('[data-error-for="login"]').evaluate((p) => (p.hidden = true));
      await attempt(PASSWORD, totp(secret, totpStep() + 20));
      error = await formError(page, "login");
      check(/wrong name, password or code/.test(error), "login: a wrong TOTP code is refused", error);
      // A code is accepted once, for a later step than the last one used (setup used lastStep);
      // the server's window takes the next step already.
      const step = Math.max(totpStep(), lastStep + 1);
      await attempt(PASSWORD, totp(secret, step));
      await page.locator("#users").waitFor({ state: "visible" });
      check(new URL(page.url()).pathname === "/users", "login: the right code signs in");
      check((await page.locator("#who").textContent()).includes(ADMIN), "login: the bar names the admin");
      saveState({ lastStep: step });
    }, { cookies: false, saveCookies: true });
  },

  // Adding a user on the page; its panel: QR code (screenshot of the image element, for zbarimg)
  // and the profile download.
  async add() {
    await withBrowser(async (page) => {
      await page.goto(`${BASE}/users`);
      await page.locator("#users").waitFor({ state: "visible" });
      await page.locator("#add-form [name=name]").fill(USER);
      await page.locator("#add-form button[type=submit]").click();
      const row = page.locator(`tr[data-user="${USER}"]`);
      await row.waitFor();
      pass(`add: ${USER} is in the list`);
      await page.locator("#user").waitFor({ state: "visible" });
      await page.locator("#user-files li").first().waitFor();
      const qr = page.locator("#user-qr");
      await page.waitForFunction(() => {
        const img = document.getElementById("user-qr");
        return img.complete && img.naturalWidth > 0;
      }, null, { timeout: WAIT_MS });
      pass(`add: ${USER}'s QR code image loads`);
      await shot(page, "users");
      await captureElement(page, qr, join(OUT, "qr.png"));
      const link = page.locator("#user-files a", { hasText: new RegExp(`^${USER}\\.conf$`) });
      const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
      await download.saveAs(join(OUT, "downloaded.conf"));
      pass(`add: ${USER}.conf downloads from the page`);
      // A second user to delete again, through the confirmation.
      await page.locator("#add-form [name=name]").fill("scratch");
      await page.locator("#add-form button[type=submit]").click();
      await page.locator('tr[data-user="scratch"]').waitFor();
      await page.locator("#user-title", { hasText: "scratch" }).waitFor();
      await page.locator("#user-delete").click();
      await page.locator("#user-confirm").waitFor({ state: "visible" });
      await page.locator("#user-confirm-yes").click();
      await page.locator('tr[data-user="scratch"]').waitFor({ state: "detached" });
      pass("delete: a user is deleted after the confirmation");
      // The same name twice: the API's error and field next to the form.
      await page.locator("#add-form [name=name]").fill(USER);
      await page.locator("#add-form button[type=submit]").click();
      const error = await formError(page, "add");
      check(error.length > 0 && (await page.locator("#add-form [name=name][aria-invalid=true]").count()) === 1,
            "add: an existing name is refused next to the form, the field marked", error);
    });
  },

  async disable() {
    await toggle("disable");
  },
  async enable() {
    await toggle("enable");
  },

  // CSRF, the policies, the phone-sized window and signing out.
  async checks() {
    await withBrowser(async (page) => {
      const response = await page.goto(`${BASE}/users`);
      const csp = response.headers()["content-security-policy"] || "";
      check(csp.includes("script-src 'self'") && !csp.includes("unsafe"),
            "csp: the page's policy allows only this origin's script", csp);
      await page.locator(`tr[data-user="${USER}"]`).waitFor();
      let r = await pageFetch(page, "POST", "/api/v1/users");
      check(r.status === 403, "csrf: POST /api/v1/users without X-CSRF-Token is 403", `${r.status} ${r.body}`);
      r = await pageFetch(page, "POST", `/api/v1/users/${USER}/disable`);
      check(r.status === 403, "csrf: POST .../disable without X-CSRF-Token is 403", `${r.status}`);
      r = await pageFetch(page, "DELETE", "/api/v1/session");
      check(r.status === 403, "csrf: DELETE /api/v1/session without X-CSRF-Token is 403", `${r.status}`);
      r = await pageFetch(page, "GET", "/api/v1/session");
      check(r.status === 200, "csrf: the session survived those", `${r.status}`);
      check(r.csp === "default-src 'none'; frame-ancestors 'none'", "csp: API answers keep theirs", r.csp);

      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await page.locator(`tr[data-user="${USER}"]`).waitFor();
      const [scrollWidth, innerWidth] = await page.evaluate(
        () => [document.documentElement.scrollWidth, window.innerWidth]);
      check(scrollWidth <= innerWidth, "phone: 390x844 shows the users without horizontal overflow",
            `scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`);
      await shot(page, "phone-users", { fullPage: false });
      await page.locator(`tr[data-user="${USER}"] button.link`).click();
      await page.locator("#user").waitFor({ state: "visible" });
      await page.locator("#user").scrollIntoViewIfNeeded();
      const width2 = await page.evaluate(() => document.documentElement.scrollWidth);
      check(width2 <= 390, "phone: the user's panel fits too", `scrollWidth ${width2}`);
      await shot(page, "phone-user", { fullPage: false });

      await page.locator("#signout").click();
      await page.locator("#login").waitFor({ state: "visible" });
      r = await pageFetch(page, "GET", "/api/v1/session");
      check(r.status === 401, "signout: the session is gone (401)", `${r.status}`);
    });
  },

  // Guessing (last: it uses up this address's sign-in budget for a while): an account gets 5
  // tries at once, then the page says how long to wait.
  async ratelimit() {
    await withBrowser(async (page) => {
      await page.goto(`${BASE}/login`);
      const form = page.locator("#login-form");
      await form.waitFor({ state: "visible" });
      let error = "";
      for (let i = 0; i < 6 && !/try again in \d+ s/.test(error); i++) {
        await form.locator("[name=name]").fill("mallory");
        await form.locator("[name=password]").fill("guess number " + i);
        await form.locator("[name=code]").fill("123456");
        await page.locator('[data-error-for="login"]').evaluate((p) => (p.hidden = true));
        await form.locator("button[type=submit]").click();
        error = await formError(page, "login");
      }
      check(/try again in \d+ s/.test(error), "rate limit: the 6th guess is refused with a wait", error);
    }, { cookies: false });
  },

  // Settings and a one-time link on the user's panel; the link opened twice by a stranger (no
  // cookies): the first time it shows the QR code and the files, the second time it is refused.
  async link() {
    let url = "";
    await withBrowser(async (page) => {
      await page.goto(`${BASE}/users`);
      await page.locator(`tr[data-user="${USER}"] button.link`).click();
      await page.locator("#user").waitFor({ state: "visible" });
      await page.locator("#user-chart svg.bars").waitFor();
      const bars = await page.locator("#user-chart svg.bars g").count();
      check(bars === 48, "traffic: the chart shows 48 hourly bars", `${bars}`);
      await page.locator("[data-period=day]").click();
      await page.waitForFunction(() => document.querySelectorAll("#user-chart svg.bars g").length === 62);
      pass("traffic: the 2-month view shows 62 daily bars");
      const form = page.locator("#user-settings");
      await form.locator("[name=note]").fill("Ann's tablet");
      await form.locator("[name=monthly_quota]").fill("50");
      const saved = page.waitForResponse((r) => r.request().method() === "PATCH");
      await form.locator("button[type=submit]").click();
      check((await saved).status() === 200, "settings: note and quota saved (PATCH 200)");
      const usage = await page.locator("#user-usage").textContent();
      check(/of 50(\.0)? GB/.test(usage), "settings: the usage line shows the quota", usage);
      await page.locator("#user-link").click();
      await page.locator("#user-link-box").waitFor({ state: "visible" });
      url = await page.locator("#user-link-url").inputValue();
      check(/^https:\/\/[^/]+\/get#[0-9a-f]{32}$/.test(url), "link: a one-time link with a 128-bit token", url);
      await shot(page, "user-panel");
    });
    const open = async () => {
      let result = {};
      await withBrowser(async (page) => {
        // The link as sent, with the address the recipient uses.
        const target = new URL(url);
        await page.goto(`${BASE}/get${target.hash}`);
        await Promise.race([page.locator("#get-done").waitFor({ state: "visible" }),
                            page.locator('[data-error-for="get"]').waitFor({ state: "visible" })]);
        result.ok = await page.locator("#get-done").isVisible();
        if (result.ok) {
          await page.waitForFunction(() => {
            const img = document.getElementById("get-qr");
            return img.complete && img.naturalWidth > 0;
          });
          await captureElement(page, page.locator("#get-qr"), join(OUT, "link-qr.png"));
          const a = page.locator("#get-files a", { hasText: new RegExp(`^${USER}\\.conf$`) });
          const [download] = await Promise.all([page.waitForEvent("download"), a.click()]);
          await download.saveAs(join(OUT, "link.conf"));
          await shot(page, "link");
        } else {
          result.error = (await page.locator('[data-error-for="get"]').textContent()).trim();
        }
      }, { cookies: false });
      return result;
    };
    const first = await open();
    check(first.ok, "link: the first opening shows the profile", first.error || "");
    const second = await open();
    check(!second.ok && /used already/.test(second.error || ""),
          "link: the second opening is refused", second.error || "(it worked again)");
  },

  // The server screen: version, numbers, and the doctor run from the page (its findings shown).
  async server() {
    await withBrowser(async (page) => {
      await page.goto(`${BASE}/users`);
      await page.locator("#nav a[href='/server']").click();
      await page.locator("#server").waitFor({ state: "visible" });
      await page.locator("#server-facts dd").first().waitFor();
      const facts = await page.locator("#server-facts").textContent();
      check(/Version/.test(facts) && /Running for/.test(facts) && /online/.test(facts),
            "server: version, uptime and users are shown", facts.slice(0, 200));
      check(await page.locator("#server-db").isHidden(), "server: web.db is healthy (no warning)");
      await page.locator("#doctor-run").click();
      // The doctor measures path MTUs and asks resolvers: bounded by the server at 120 s.
      await page.locator("#doctor-findings li").first().waitFor({ timeout: 130000 });
      const n = await page.locator("#doctor-findings li").count();
      check(n > 0, "server: the doctor's findings are shown on the page", `${n}`);
      await page.setViewportSize({ width: 390, height: 844 });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      check(width <= 390, "phone: the server screen fits", `scrollWidth ${width}`);
      await page.setViewportSize({ width: 1200, height: 800 });
      await shot(page, "server");
    });
  },

  // A session that expired (test_web.sh ages it in web.db): the next request lands on sign-in
  // with the reason, and signing in again works.
  async expired() {
    const { secret, lastStep } = readState();
    await withBrowser(async (page) => {
      await page.goto(`${BASE}/users`);
      await page.locator("#login").waitFor({ state: "visible" });
      const r = await pageFetch(page, "GET", "/api/v1/users");
      check(r.status === 401, "expired: the API refuses the expired session (401)", `${r.status}`);
      const form = page.locator("#login-form");
      await form.locator("[name=name]").fill(ADMIN);
      await form.locator("[name=password]").fill(PASSWORD);
      const step = Math.max(totpStep(), lastStep + 1);
      await form.locator("[name=code]").fill(totp(secret, step));
      await form.locator("button[type=submit]").click();
      await page.locator(`tr[data-user="${USER}"]`).waitFor();
      pass("expired: signing in again works");
      saveState({ lastStep: step });
    });
  },

  // A viewer (second admin): signs up through its link, then sees the list but no buttons that
  // change anything.
  async viewer() {
    await withBrowser(async (page) => {
      await page.goto(env.WEB_SETUP_LINK);
      await page.locator("#setup-form").waitFor({ state: "visible" });
      const secret = (await page.locator("#setup-secret").textContent()).replace(/\s/g, "");
      const form = page.locator("#setup-form");
      await form.locator("[name=password]").fill(PASSWORD);
      await form.locator("[name=password2]").fill(PASSWORD);
      const step = totpStep();
      await form.locator("[name=code]").fill(totp(secret, step));
      await form.locator("button[type=submit]").click();
      await page.locator("#setup-done").waitFor({ state: "visible" });
      await page.locator("#setup-done a").click();
      const login = page.locator("#login-form");
      await login.waitFor({ state: "visible" });
      await login.locator("[name=name]").fill(ADMIN);
      await login.locator("[name=password]").fill(PASSWORD);
      await login.locator("[name=code]").fill(totp(secret, step + 1));
      await login.locator("button[type=submit]").click();
      await page.locator(`tr[data-user="${USER}"]`).waitFor();
      check(!(await page.locator("#add-form").isVisible()), "viewer: no add form");
      await page.locator(`tr[data-user="${USER}"] button.link`).click();
      await page.locator("#user").waitFor({ state: "visible" });
      check(!(await page.locator("#user-toggle").isVisible()) &&
            !(await page.locator("#user-delete").isVisible()),
            "viewer: no disable, enable or delete buttons");
      check(!(await page.locator("#user-link").isVisible()) &&
            !(await page.locator("#user-settings button[type=submit]").isVisible()),
            "viewer: no one-time link or settings Save");
      // And the API refuses the viewer's changes even with its own CSRF token: 403, nothing done.
      const csrf = JSON.parse((await pageFetch(page, "GET", "/api/v1/session")).body).csrf_token;
      const refused = [];
      for (const [method, path] of [["POST", `/api/v1/users/${USER}/disable`],
                                    ["DELETE", `/api/v1/users/${USER}`],
                                    ["POST", `/api/v1/users/${USER}/links`],
                                    ["PATCH", `/api/v1/users/${USER}`],
                                    ["POST", "/api/v1/server/doctor"]]) {
        const r = await pageFetch(page, method, path, { "X-CSRF-Token": csrf });
        if (r.status !== 403) refused.push(`${method} ${path}: ${r.status}`);
      }
      check(refused.length === 0, "viewer: the API answers 403 to each change it tries",
            refused.join("; "));
      const still = JSON.parse((await pageFetch(page, "GET", `/api/v1/users/${USER}`)).body);
      check(still.user && still.user.enabled === true, "viewer: ...and the user is unchanged");
      await shot(page, "viewer");
    }, { cookies: false, saveCookies: true }); // the admins step goes on as this viewer
  },
};

// The admins, API tokens and audit log screens. First as the viewer of the previous step (its
// cookie carried over): no audit log, 403 from its API, no controls on the admins screen. Then as
// the owner, signed in again: adds carol, makes an API token that works as a Bearer token until it
// is revoked on the page, reads the audit log, and looks at both lists at phone size.
steps.admins = async () => {
  await withBrowser(async (page) => {
    await page.goto(`${BASE}/users`);
    await page.locator("#users").waitFor({ state: "visible" });
    check((await page.locator("#who").textContent()).includes("viewer"),
          "viewer: still signed in from the viewer step");
    check(await page.locator("#nav a[href='/admins']").isVisible() &&
          !(await page.locator("#nav a[href='/audit']").isVisible()),
          "viewer: the navigation has Admins but no Audit log");
    await page.goto(`${BASE}/audit`);
    await page.locator("#users").waitFor({ state: "visible" });
    check(!(await page.locator("#audit").isVisible()) && new URL(page.url()).pathname === "/users",
          "viewer: /audit shows the users instead", new URL(page.url()).pathname);
    const r = await pageFetch(page, "GET", "/api/v1/audit");
    check(r.status === 403, "viewer: GET /api/v1/audit is 403", `${r.status} ${r.body}`);
    await page.goto(`${BASE}/admins`);
    await page.locator(`tr[data-admin="${ADMIN}"]`).waitFor();
    check(!(await page.locator("#admin-add-form").isVisible()) &&
          (await page.locator("#admins-body button, #admins-body select").count()) === 0,
          "viewer: the admins list without add form, role menus, Reset or Remove");
  });

  const { secret, lastStep } = readState();
  await withBrowser(async (page) => {
    await page.goto(`${BASE}/login`);
    const login = page.locator("#login-form");
    await login.waitFor({ state: "visible" });
    const step = Math.max(totpStep(), lastStep + 1);
    await login.locator("[name=name]").fill(ADMIN);
    await login.locator("[name=password]").fill(PASSWORD);
    await login.locator("[name=code]").fill(totp(secret, step));
    await login.locator("button[type=submit]").click();
    await page.locator("#users").waitFor({ state: "visible" });
    saveState({ lastStep: step });

    // A new admin: the setup link is shown once, with a copy button.
    await page.locator("#nav a[href='/admins']").click();
    await page.locator(`tr[data-admin="${ADMIN}"]`).waitFor();
    check(new URL(page.url()).pathname === "/admins", "admins: the navigation opens /admins");
    await page.locator("#admin-add-form [name=name]").fill("carol");
    await page.locator("#admin-add-form [name=role]").selectOption("admin");
    await page.locator("#admin-add-form button[type=submit]").click();
    await page.locator("#admin-link").waitFor({ state: "visible" });
    const link = (await page.locator("#admin-link-value").textContent()).trim();
    check(link.startsWith(`${BASE}/setup#`) && /#[0-9a-f]{32}$/.test(link),
          "admins: adding carol shows her setup link on this server", link);
    check(await page.locator("#admin-link-copy").isVisible(), "admins: with a copy button");
    const carol = page.locator('tr[data-admin="carol"]');
    await carol.waitFor();
    check((await carol.locator("td.state").textContent()).trim() === "setup pending" &&
          (await carol.locator("select").inputValue()) === "admin",
          "admins: carol is listed as an admin whose setup is pending");
    await shot(page, "admins");

    // An API token: shown once, works as a Bearer token, stops working when revoked.
    await page.locator("#nav a[href='/tokens']").click();
    await page.locator("#token-form [name=label]").fill("browser test");
    await page.locator("#token-form button[type=submit]").click();
    await page.locator("#token-new").waitFor({ state: "visible" });
    const token = (await page.locator("#token-new-value").textContent()).trim();
    check(/^wpat_[0-9a-f]{64}$/.test(token), "tokens: the new token is shown", token.slice(0, 9));
    const row = page.locator("#tokens-body tr", { hasText: "browser test" });
    await row.waitFor();
    const api = await apiRequest.newContext({ ignoreHTTPSErrors: true, timeout: WAIT_MS });
    try {
      const users = () => api.get(`${BASE}/api/v1/users`, { headers: { Authorization: `Bearer ${token}` } });
      let r = await users();
      const body = r.status() === 200 ? await r.json() : {};
      check(r.status() === 200 && (body.users || []).some((u) => u.name === USER),
            "tokens: GET /api/v1/users with the token as Bearer is 200", `${r.status()}`);
      await row.locator("button.danger").click();
      await page.locator("#token-confirm").waitFor({ state: "visible" });
      await page.locator("#token-confirm-yes").click();
      await page.locator("#tokens-body tr.disabled", { hasText: "browser test" }).waitFor();
      pass("tokens: revoked on the page after the confirmation");
      r = await users();
      check(r.status() === 401, "tokens: the revoked token gets 401", `${r.status()}`);
    } finally {
      await api.dispose();
    }
    await shot(page, "tokens");

    // The audit log has what happened, newest first.
    await page.locator("#nav a[href='/audit']").click();
    await page.locator("#audit-body tr").first().waitFor();
    const actions = await page.locator("#audit-body td.action").allTextContents();
    check(actions.includes("user.add") && actions.includes("token.create") &&
          actions.includes("admin.add"), "audit: lists user.add, admin.add and token.create",
          actions.slice(0, 12).join(" "));
    check(actions[0] === "token.revoke", "audit: newest first", actions[0]);
    await shot(page, "audit");

    // Phone size: neither list scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, ready] of [["/admins", 'tr[data-admin="carol"]'], ["/audit", "#audit-body tr"]]) {
      await page.goto(`${BASE}${path}`);
      await page.locator(ready).first().waitFor();
      const [scrollWidth, innerWidth] = await page.evaluate(
        () => [document.documentElement.scrollWidth, window.innerWidth]);
      check(scrollWidth <= innerWidth, `phone: ${path} at 390x844 has no horizontal overflow`,
            `scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`);
      await shot(page, `phone${path.replace("/", "-")}`, { fullPage: false });
    }
  }, { cookies: false });
};

// Opens the user's panel and presses Disable or Enable; records when the server confirmed it.
async function toggle(action) {
  await withBrowser(async (page) => {
    await page.goto(`${BASE}/users`);
    const row = page.locator(`tr[data-user="${USER}"]`);
    await row.waitFor();
    if (action === "disable") {
      // Its client has just pinged through the tunnel: the list says so.
      const state = (await row.locator("td.state").textContent()).trim();
      const endpoint = (await row.locator("td.endpoint").textContent()).trim();
      check(state === "online" && endpoint !== "—",
            `users: ${USER} is listed online with its endpoint while its client pings`,
            `state "${state}", endpoint "${endpoint}"`);
      await shot(page, "users-online");
    }
    await row.locator("button.link").click();
    const button = page.locator("#user-toggle");
    await button.waitFor({ state: "visible" });
    const label = action === "disable" ? "Disable" : "Enable";
    check((await button.textContent()) === label, `${action}: the button says ${label}`);
    const answered = page.waitForResponse((r) => r.url().endsWith(`/${action}`));
    await button.click();
    const response = await answered;
    writeFileSync(join(OUT, `${action}.time`), `${Date.now() / 1000}\n`);
    check(response.status() === 200, `${action}: POST .../${action} answered 200`, `${response.status()}`);
    if (action === "disable") {
      await page.locator(`tr[data-user="${USER}"].disabled`).waitFor();
      pass(`disable: the list shows ${USER} disabled`);
      await shot(page, "disabled");
    } else {
      await page.locator(`tr[data-user="${USER}"]:not(.disabled)`).waitFor();
      pass(`enable: the list shows ${USER} enabled`);
    }
  });
}

async function main() {
  const step = process.argv[2];
  if (!steps[step]) throw new Error(`unknown step ${step}; one of ${Object.keys(steps).join(", ")}`);
  if (!BASE || !OUT) throw new Error("WEB_BASE and WEB_OUT must be set");
  selfTest();
  await steps[step]();
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => {
    // Playwright's errors name the locator and the timeout that ran out.
    fail(`${process.argv[2]}: ${String(e.message || e).split("\n").slice(0, 6).join(" | ")}`);
    process.exit(2);
  });
