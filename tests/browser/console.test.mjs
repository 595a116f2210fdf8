// The admin console in a real browser: Debian's headless Chromium, driven by Playwright, against a real `roster
// serve` (scripts/console-tests starts it on SQLite or PostgreSQL and seeds the tenant). Every page is kept as a
// screenshot in SCREENSHOT_DIR, and checked for accessibility problems by axe-core.

import { after, before, test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.ROSTER_URL;
const KEY = process.env.ROSTER_ADMIN_KEY;
const TENANT = process.env.ROSTER_TENANT || "acme";
const SHOTS = process.env.SCREENSHOT_DIR || "screenshots";
const PASSWORD = "correct horse battery";
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let browser;
let context;
let page;
const problems = [];
const ids = {};

// The API, with the tenant's admin API key: the seed, and the "someone else" of the conflict test.
async function api(method, route, body, headers = {}) {
  const response = await fetch(`${BASE}${route}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return { data, etag: response.headers.get("etag") };
}

const tenantPath = (rest) => `/v1/tenants/${TENANT}${rest}`;

function totp(base32, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = crypto.createHmac("sha1", key).update(counter).digest();
  const offset = digest[19] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

// A test that, when it fails, leaves a screenshot and the page's text behind.
function test(name, body) {
  nodeTest(name, async () => {
    try {
      await body();
    } catch (error) {
      const file = `FAILED-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`;
      await page?.screenshot({ path: path.join(SHOTS, `${file}.png`), fullPage: true }).catch(() => {});
      const text = await page?.locator("body").innerText().catch(() => "");
      console.error(`--- the page when "${name}" failed (${file}.png):\n${text}`);
      throw error;
    }
  });
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// No WCAG 2.1 A or AA violation on the page as it is now.
async function accessible(name) {
  // evaluated by the test's own channel, which the page's policy (no inline script) does not govern
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
  const violations = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  assert.deepEqual(violations, [], `${name} has accessibility violations`);
}

async function signIn(login, password = PASSWORD, tenant = TENANT) {
  await context.clearCookies();
  await page.goto(`${BASE}/console#/signin`);
  await page.reload();
  await page.getByLabel("Tenant").fill(tenant);
  await page.getByLabel("Email or username").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOut() {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  // the tenant: an admin for the console, a plain user, 30 people to page through, an agent to grant
  for (const [username, role] of [["ada", "admin"], ["tia", "admin"], ["uma", "user"]]) {
    const { data } = await api("POST", tenantPath("/users"), {
      email: `${username}@example.com`, username, display_name: username.toUpperCase(), password: PASSWORD, role,
    });
    ids[username] = data.id;
  }
  for (let i = 1; i <= 30; i++) {
    await api("POST", tenantPath("/users"), {
      email: `member${String(i).padStart(2, "0")}@example.com`, display_name: `Member ${i}`, user_type: "member",
    });
  }
  await api("POST", tenantPath("/agents"), { name: "reports", description: "Monthly reports" });
  // bugs from the last three weeks by four testers, and test cycles by two customers
  const people = [["Carla Souza", 9], ["Bruno Lima", 6], ["Dora Reis", 4], ["Enzo Alves", 2]];
  const bugs = [];
  let id = 1;
  for (const [name, count] of people) {
    for (let i = 0; i < count; i++) {
      const at = new Date(Date.now() - ((id * 37) % 20) * 86_400_000).toISOString();
      bugs.push({ id: id++, title: `bug ${id}`, severity: "low", status: "accepted", reported_at: at, known: false,
        author: { name }, test: { id: 500 }, steps: ["Open", "Click", "See"] });
    }
  }
  await api("POST", tenantPath("/ingest/bugs"), { bugs });
  const cycles = [1, 2, 3].map((n) => JSON.stringify({ id: n, title: `cycle ${n}`, testing_type: "rapid",
    created_by: n === 3 ? "Fabio Costa" : "Gina Prado", start_at: new Date(Date.now() - n * 86_400_000).toISOString() }));
  await api("POST", tenantPath("/ingest/tests"), `${cycles.join("\n")}\n`);
  // training: two scenarios, and resolved sessions that give UMA 90 + 160 XP, member 1 100 and member 2 80
  const scenario = async (title, difficulty, xp_reward) =>
    (await api("POST", tenantPath("/scenarios"), { title, difficulty, xp_reward, estimated_time: 15 })).data.id;
  const greet = await scenario("Greet a customer", "starter", 100);
  const refund = await scenario("Refund a double charge", "intermediate", 200);
  const { data: members } = await api("GET", tenantPath("/users?q=member0&limit=2"), undefined);
  const [one, two] = [...members.items].sort((a, b) => a.email.localeCompare(b.email)).map((m) => m.id);
  for (const [user, scenarioId, score] of [[ids.uma, greet, 90], [ids.uma, refund, 80], [one, greet, 100],
    [two, refund, 40]]) {
    const { data: session } = await api("POST", tenantPath(`/scenarios/${scenarioId}/start`), { user_id: user });
    await api("POST", `/v1/sessions/${session.id}/resolve`, {
      verification_score: score, communication_score: score, technical_score: score, documentation_score: score,
      response_time_score: score,
    });
  }

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(8000);
  page.on("dialog", (dialog) => dialog.accept());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // refusals the tests provoke on purpose are not problems
    if (message.type() === "error" && !/status of (401|403|404|412|422)|tracker\.png/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
});

after(async () => {
  await browser?.close();
});

test("sign-in: a wrong password is refused, an admin gets in with an HttpOnly SameSite=Strict cookie", async () => {
  await page.goto(`${BASE}/console`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await accessible("sign-in");
  await shot("01-sign-in");
  await signIn("ada@example.com", "not the password");
  await page.getByRole("alert").filter({ hasText: /invalid|wrong|incorrect/i }).waitFor();
  await shot("02-sign-in-refused");
  await signIn("ada@example.com");
  await page.getByRole("heading", { name: "Users" }).waitFor();
  const [cookie] = (await context.cookies()).filter((c) => c.name === "roster_console");
  assert.ok(cookie, "the session cookie is set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie), "", "no script can read the session");
  await signOut();
});

test("a plain user is refused the console", async () => {
  await signIn("uma");
  await page.getByRole("alert").filter({ hasText: "admins and sysadmins" }).waitFor();
  assert.equal((await context.cookies()).filter((c) => c.name === "roster_console").length, 0);
});

test("users: search, filters and keyset paging", async () => {
  await signIn("ada");
  await page.getByRole("heading", { name: "Users" }).waitFor();
  // the heading shows before the list arrives: wait for the list
  await page.getByText("25 users on this page").waitFor();
  assert.equal(await page.locator("table tbody tr").count(), 25, "a page holds 25 users");
  await page.getByRole("button", { name: "Next page" }).click();
  await page.getByText("15 users on this page").waitFor();
  await page.getByRole("button", { name: "Previous page" }).click();
  await page.getByText("25 users on this page").waitFor();
  await accessible("users");
  await shot("03-users");
  await page.getByLabel("Search").fill("member1");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("10 users on this page").waitFor();
  assert.match(page.url(), /q=member1/, "the search is in the address");
  await page.getByLabel("Role").selectOption("admin");
  await page.getByLabel("Search").fill("");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("2 users on this page").waitFor();
  await shot("04-users-filtered");
});

test("a status action: suspend, then activate", async () => {
  await page.goto(`${BASE}/console#/t/${TENANT}/users/${ids.uma}`);
  await page.getByRole("heading", { name: "UMA" }).waitFor();
  await page.getByRole("button", { name: "Suspend" }).click();
  await page.getByRole("status").filter({ hasText: "Suspend: done." }).waitFor();
  assert.equal((await api("GET", tenantPath(`/users/${ids.uma}`))).data.status, "suspended");
  await page.locator(".facts .badge", { hasText: "suspended" }).waitFor();
  await shot("05-user-suspended");
  await page.getByRole("button", { name: "Activate" }).click();
  await page.getByRole("status").filter({ hasText: "Activate: done." }).waitFor();
  assert.equal((await api("GET", tenantPath(`/users/${ids.uma}`))).data.status, "active");
  await accessible("user");
});

test("an edit conflict: someone else saved first; the console says what changed and keeps the admin's edit", async () => {
  await page.goto(`${BASE}/console#/t/${TENANT}/users/${ids.uma}`);
  await page.getByRole("heading", { name: "UMA" }).waitFor();
  await page.getByLabel("Display name").fill("Uma from the console");
  // meanwhile, through the API
  await api("PATCH", tenantPath(`/users/${ids.uma}`), { display_name: "Uma elsewhere", first_name: "Uma" });
  await page.getByRole("button", { name: "Save changes" }).click();
  const conflict = page.locator(".conflict");
  await conflict.waitFor();
  assert.match(await conflict.innerText(), /Someone else changed this user after you opened it/);
  assert.match(await conflict.innerText(), /Display name is now “Uma elsewhere”/);
  assert.match(await conflict.innerText(), /First name is now “Uma”/);
  assert.equal(await page.getByLabel("Display name").inputValue(), "Uma from the console", "the edit is kept");
  assert.equal((await api("GET", tenantPath(`/users/${ids.uma}`))).data.display_name, "Uma elsewhere");
  await shot("06-edit-conflict");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("status").filter({ hasText: "Changes saved." }).waitFor();
  const saved = (await api("GET", tenantPath(`/users/${ids.uma}`))).data;
  assert.equal(saved.display_name, "Uma from the console");
  assert.equal(saved.first_name, "Uma", "the other change stays");
  // a refused value is named beside its field
  await page.getByLabel("Email").fill("not an address");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.locator("#" + (await page.getByLabel("Email").getAttribute("id")) + "-error").filter({ hasText: /./ }).waitFor();
  assert.equal(await page.getByLabel("Email").getAttribute("aria-invalid"), "true");
  await shot("07-edit-invalid");
});

test("agent grants: grant with an expiry, then revoke", async () => {
  await page.goto(`${BASE}/console#/t/${TENANT}/users/${ids.uma}`);
  await page.getByRole("heading", { name: "Agent grants" }).waitFor();
  const grant = page.locator("form.grant");
  await grant.getByLabel("Agent").selectOption("reports");
  await grant.getByLabel("update").check();
  const expiry = new Date(Date.now() + 7 * 86_400_000);
  const local = new Date(expiry.getTime() - expiry.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await grant.getByLabel("Expires (optional)").fill(local);
  await grant.getByRole("button", { name: "Grant" }).click();
  await page.getByRole("status").filter({ hasText: "Grant on reports saved." }).waitFor();
  const { data } = await api("GET", tenantPath(`/users/${ids.uma}/permissions`));
  assert.equal(data.items.length, 1);
  assert.deepEqual([data.items[0].can_read, data.items[0].can_update, data.items[0].can_delete], [true, true, false]);
  assert.ok(Math.abs(new Date(data.items[0].expires_at) - expiry) < 120_000, "the expiry is the one chosen");
  await page.getByRole("cell", { name: "read, update" }).waitFor();
  await shot("08-grants");
  await page.getByRole("button", { name: "Revoke the grant on reports" }).click();
  await page.getByRole("status").filter({ hasText: "Grant on reports revoked." }).waitFor();
  const after = await api("GET", tenantPath(`/users/${ids.uma}/permissions`), undefined);
  assert.equal(after.data.items.length, 0, "a revoked grant no longer counts");
});

test("the audit log: what the console did is there, filters narrow it, and the chain verifies", async () => {
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByRole("heading", { name: "Audit log" }).waitFor();
  await page.locator("ol.timeline li").first().waitFor();
  await page.getByLabel("Action").selectOption("status_change");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/action=status_change/);
  // the filtered list, not the one before it
  await page.waitForFunction(() => {
    const badges = [...document.querySelectorAll("ol.timeline li .badge")];
    return badges.length > 0 && badges.every((b) => b.textContent === "status change");
  });
  const actions = await page.locator("ol.timeline li .badge").allInnerTexts();
  assert.ok(actions.length >= 2, "the suspend and the activate");
  assert.ok(actions.every((a) => a === "status change"), actions.join());
  const who = await page.locator("ol.timeline li").first().innerText();
  assert.match(who, /ADA → Uma from the console/, "the entry names who acted and on whom, by their names now");
  await page.getByRole("button", { name: "Verify the chain" }).click();
  await page.getByRole("status").filter({ hasText: "The chain is intact" }).waitFor();
  await accessible("audit");
  await shot("09-audit");
});

test("contributions: a bar chart of top contributors that follows the window, and a person's timeline", async () => {
  await page.getByRole("link", { name: "Contributions" }).click();
  await page.getByRole("heading", { name: "Contributions" }).waitFor();
  const bars = page.locator("svg.bar-chart rect.bar");
  await bars.first().waitFor();
  const values = await bars.evaluateAll((rects) => rects.map((r) => Number(r.dataset.value)));
  assert.deepEqual(values, [9, 6, 4, 2, 2, 1], "testers by bugs, customers by cycles, most first");
  const widths = await bars.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("width"))));
  assert.ok(widths[0] > widths[1] && widths[1] > widths[2], `bar lengths follow the counts: ${widths}`);
  assert.match(await page.locator("svg.bar-chart").getAttribute("aria-label"), /Carla Souza: 9 records/);
  await accessible("contributions");
  await shot("10-contributions");
  await page.getByLabel("Who").selectOption("tester");
  await page.waitForURL(/user_type=tester/);
  // customers are out: four bars, once the new chart is drawn
  await page.waitForFunction(() => document.querySelectorAll("svg.bar-chart rect.bar").length === 4);
  await page.getByLabel("Window", { exact: true }).selectOption("7");
  await page.waitForURL(/days=7/);
  await page.getByRole("heading", { name: /Top contributors — last 7 days/ }).waitFor();
  const week = await page.locator("svg.bar-chart rect.bar").evaluateAll((rects) => rects.map((r) => Number(r.dataset.value)));
  const sum = week.reduce((a, b) => a + b, 0);
  assert.ok(sum < 21, `a week holds fewer bugs than three weeks (${week})`);
  await shot("11-contributions-week");
  // the leader's activity timeline
  await page.getByRole("link", { name: "Carla Souza" }).first().click();
  const columns = page.locator("svg.column-chart rect[data-value]");
  await columns.first().waitFor();
  const perDay = await columns.evaluateAll((rects) => rects.map((r) => Number(r.dataset.value)));
  assert.equal(perDay.reduce((a, b) => a + b, 0), 9, "every one of Carla's bugs is on the timeline");
  await page.getByLabel("Per", { exact: true }).selectOption("week");
  await page.locator("figcaption", { hasText: /Records per week/ }).waitFor();
  const weekly = await page.locator("svg.column-chart rect[data-value]").evaluateAll((rects) => rects.map((r) => Number(r.dataset.value)));
  assert.equal(weekly.reduce((a, b) => a + b, 0), 9, "the weekly timeline holds the same bugs");
  await shot("12-activity-timeline");
});

test("clients: a wrong CPF is named, a client is registered, found without accents, deactivated and restored", async () => {
  await page.getByRole("link", { name: "Clients" }).click();
  await page.getByRole("heading", { name: "Clients" }).waitFor();
  const create = page.getByRole("form", { name: "Register a client" });
  await create.getByLabel("Full name").fill("João da Silva");
  await create.getByLabel("CPF", { exact: true }).fill("123.456.789-00");
  await create.getByLabel("Birth date").fill("1987-04-23");
  await create.getByRole("button", { name: "Register client" }).click();
  await create.locator(".field-error").filter({ hasText: /./ }).first().waitFor();
  assert.equal(await create.getByLabel("CPF", { exact: true }).getAttribute("aria-invalid"), "true");
  await create.getByLabel("CPF", { exact: true }).fill("123.456.789-09");
  await create.getByRole("button", { name: "Register client" }).click();
  await page.getByRole("status").filter({ hasText: "Client João da Silva registered." }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill("joao");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/q=joao/);
  await page.getByRole("cell", { name: "123.456.789-09" }).waitFor();
  await accessible("clients");
  await shot("13-clients");
  await page.getByRole("button", { name: "Deactivate João da Silva" }).click();
  await page.getByRole("status").filter({ hasText: "João da Silva deactivated." }).waitFor();
  assert.equal(await page.getByRole("cell", { name: "123.456.789-09" }).count(), 0, "a deactivated client leaves the search");
  await page.getByLabel("Include deactivated").check();
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: "Restore João da Silva" }).click();
  await page.getByRole("status").filter({ hasText: "João da Silva restored." }).waitFor();
  const { data } = await api("GET", tenantPath("/clients"), undefined);
  assert.deepEqual(data.items.map((c) => [c.name, c.is_active]), [["João da Silva", true]]);
});

test("training: the leaderboard as a bar chart of XP, its size in the address, and the scenarios", async () => {
  await page.getByRole("link", { name: "Training" }).click();
  await page.getByRole("heading", { name: "Training", level: 1 }).waitFor();
  const bars = page.locator("svg.bar-chart rect.bar");
  await bars.first().waitFor();
  assert.deepEqual(await bars.evaluateAll((rects) => rects.map((r) => Number(r.dataset.value))), [250, 100, 80]);
  // the edit test renamed UMA
  const { data: uma } = await api("GET", tenantPath(`/users/${ids.uma}`), undefined);
  assert.match(await page.locator("svg.bar-chart").getAttribute("aria-label"), new RegExp(`^XP per trainee\\. ${uma.display_name}: 250 XP; `));
  const board = page.getByRole("region", { name: "Training leaderboard" });
  const first = await board.locator("tbody tr").first().locator("td").allTextContents();
  // rank, name, level (250 XP: level 3 needs 300), XP, sessions, average of 90 and 80
  assert.deepEqual(first, ["1", uma.display_name, "2", "250", "2", "85.00"]);
  await page.getByRole("region", { name: "Scenarios" }).getByRole("cell", { name: "Refund a double charge" }).waitFor();
  await accessible("training");
  await shot("18-training");
  await page.getByLabel("Show").selectOption("25");
  await page.waitForURL(/limit=25/);
  await page.getByRole("heading", { name: "Training", level: 1 }).waitFor();
  assert.equal(await page.locator("svg.bar-chart rect.bar").count(), 3);
  // a row's name opens that person
  await board.getByRole("link", { name: uma.display_name }).click();
  await page.getByRole("heading", { name: uma.display_name }).waitFor();
});

test("two-factor sign-in asks for the authenticator code", async () => {
  const login = await fetch(`${BASE}${tenantPath("/auth/login")}`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "tia", password: PASSWORD }),
  }).then((r) => r.json());
  const bearer = { Authorization: `Bearer ${login.token}` };
  const enrolment = await fetch(`${BASE}/v1/me/totp/enroll`, { method: "POST", headers: bearer }).then((r) => r.json());
  const step = Math.floor(Date.now() / 30_000);
  const confirmed = await fetch(`${BASE}/v1/me/totp/confirm`, {
    method: "POST", headers: { ...bearer, "Content-Type": "application/json" },
    body: JSON.stringify({ code: totp(enrolment.secret, step) }),
  });
  assert.ok(confirmed.ok, await confirmed.text());
  await signOut();
  await signIn("tia");
  const code = page.getByLabel("Authenticator code");
  await code.waitFor();
  await shot("14-sign-in-code");
  // a code of the next step: the confirmation used this one
  await code.fill(totp(enrolment.secret, step + 1));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Users" }).waitFor();
  await signOut();
});

test("tenants: a sysadmin lists, creates and suspends tenants; an admin has no such page", async () => {
  await signIn("root@example.com");
  await page.getByRole("link", { name: "Tenants" }).click();
  await page.getByRole("heading", { name: "Tenants" }).waitFor();
  await page.getByLabel("Slug").fill("beta-labs");
  await page.getByLabel("Name").fill("Beta Labs");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.getByRole("status").filter({ hasText: "Tenant beta-labs created." }).waitFor();
  await page.getByRole("button", { name: "Suspend tenant beta-labs" }).click();
  await page.getByRole("status").filter({ hasText: "Tenant beta-labs is suspended." }).waitFor();
  await page.getByLabel("Slug").fill("Not A Slug");
  await page.getByLabel("Name").fill("x");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.locator(".field-error").filter({ hasText: /./ }).first().waitFor();
  await accessible("tenants");
  await shot("15-tenants");
  // the sysadmin opens another tenant's users
  await page.getByRole("link", { name: TENANT, exact: true }).click();
  await page.getByRole("heading", { name: "Users" }).waitFor();
  await signOut();
  await signIn("ada");
  await page.getByRole("heading", { name: "Users" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Tenants" }).count(), 0);
});

test("the page's policy blocks what it does not name, and writes without the CSRF token are refused", async () => {
  const blocked = await page.evaluate(() => new Promise((resolve) => {
    const image = document.createElement("img");
    document.addEventListener("securitypolicyviolation", (e) => {
      image.remove();
      resolve(e.violatedDirective);
    }, { once: true });
    image.src = "https://example.com/tracker.png";
    document.body.append(image);
    setTimeout(() => resolve(null), 3000);
  }));
  assert.equal(blocked, "img-src");
  const status = await page.evaluate(async (route) => (await fetch(route, { method: "POST" })).status,
    `${tenantPath(`/users/${ids.uma}/suspend`)}`);
  assert.equal(status, 403, "the cookie alone does not suspend anyone");
  assert.equal((await api("GET", tenantPath(`/users/${ids.uma}`))).data.status, "active");
});

test("phone width: one column, nothing wider than the screen, and the keyboard reaches the page", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/console#/t/${TENANT}/users`);
  await page.getByText("25 users on this page").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await shot("16-users-phone");
  await page.goto(`${BASE}/console#/t/${TENANT}/contributions`);
  await page.locator("svg.bar-chart").waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0);
  await shot("17-contributions-phone");
  await page.goto(`${BASE}/console#/t/${TENANT}/training`);
  await page.locator("svg.bar-chart").waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0);
  await shot("19-training-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${BASE}/console#/t/${TENANT}/users`);
  await page.getByRole("heading", { name: "Users" }).waitFor();
  const first = await page.evaluate(() => document.querySelector("a[href], button, input, select")?.textContent);
  assert.equal(first, "Skip to the page", "the skip link comes first in the keyboard's order");
  await page.locator(".skip").focus();
  assert.ok((await page.locator(".skip").boundingBox()).x >= 0, "it shows when focused");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
  assert.match(page.url(), /#\/t\/.+\/users/, "skipping does not leave the page");
});

test("bidirectional controls in a name are shown as their code, never obeyed", async () => {
  // a display name written to pass for another: "invoice" then U+202E (right-to-left override) then "fdp.exe"
  const { data } = await api("POST", tenantPath("/users"), {
    email: "rlo@example.com", display_name: "invoice\u202Efdp.exe",
  });
  await signIn("ada");
  await page.getByRole("heading", { name: "Users" }).waitFor();
  await page.goto(`${BASE}/console#/t/${TENANT}/users/${data.id}`);
  const heading = page.getByRole("heading", { level: 1 });
  await heading.filter({ hasText: "invoice\\u202Efdp.exe" }).waitFor();
  assert.ok(!(await heading.textContent()).includes("\u202E"), "the override is not in the page's text");
  await page.goto(`${BASE}/console#/t/${TENANT}/users?q=rlo`);
  await page.getByText("1 user on this page").waitFor();
  assert.ok(!(await page.locator("table").textContent()).includes("\u202E"), "nor in the list");
});

test("no script error and no policy violation on any page", () => {
  assert.deepEqual(problems, []);
});
