// The console's pages. Each one reads and writes through the JSON API with the signed-in session; the API decides what
// the session may see and do, and its refusals are shown as they come.

import { api, tenantPath, ApiError } from "./api.js";
import { barChart, columnChart } from "./charts.js";
import {
  actionButton, badge, field, fill, h, input, isoFromLocal, message, problemText, select, showFieldErrors, table, when,
} from "./ui.js";

const PAGE_SIZE = 25;
const STATUSES = [["pending_verification", "Pending verification"], ["invited", "Invited"], ["active", "Active"],
  ["suspended", "Suspended"], ["locked", "Locked"]];
const ROLES = [["user", "User"], ["admin", "Admin"], ["sysadmin", "Sysadmin"]];
const TYPES = [["member", "Member"], ["tester", "Tester"], ["customer", "Customer"]];
const WINDOWS = [["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"], ["365", "Last 365 days"],
  ["", "All time"]];

function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}

function userLink(ctx, user) {
  const name = user.display_name || user.username || user.email || user.id;
  return h("a", { href: `#/t/${encodeURIComponent(ctx.tenant)}/users/${user.id}` }, name);
}

// Keyset paging: the API's next_cursor moves forward; the cursors already used move back.
function pager(label, state, next, reload) {
  const previous = h("button", { type: "button", disabled: !state.back.length }, "Previous page");
  previous.addEventListener("click", () => {
    state.cursor = state.back.pop() ?? null;
    reload();
  });
  const following = h("button", { type: "button", disabled: !next }, "Next page");
  following.addEventListener("click", () => {
    state.back.push(state.cursor);
    state.cursor = next;
    reload();
  });
  return h("nav", { class: "pager", "aria-label": label }, previous, following);
}

// Read a form's filled-in values (unchecked boxes and empty fields left out).
function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (value !== "") values[name] = value;
  }
  return values;
}

// A refused write: field errors beside their fields, and a message naming what no field shows.
function refusal(form, error) {
  const rest = showFieldErrors(form, error.errors);
  if (error.errors.length && !rest.length) return message("error", "Nothing was saved: see the marked fields.");
  return message("error", problemText({ message: error.message, errors: rest }));
}

// Run a form's write: field errors beside their fields, other refusals in the form's message slot.
async function submitting(form, slot, write) {
  fill(slot);
  showFieldErrors(form, []);
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    fill(slot, refusal(form, error));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- users -------------------------------------------------------------------------------------------------------

export async function users(ctx, view) {
  const q = ctx.query;
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find users" },
    field("Search", input("q", q.get("q"), { type: "search", placeholder: "email, username or name", maxlength: 200 })),
    field("Status", select("status", [["", "Any status"], ...STATUSES], q.get("status"))),
    field("Role", select("role", [["", "Any role"], ...ROLES], q.get("role"))),
    field("Type", select("user_type", [["", "Any type"], ...TYPES], q.get("user_type"))),
    h("div", { class: "field check" },
      h("input", { type: "checkbox", id: "include_deleted", name: "include_deleted", value: "true",
        checked: q.get("include_deleted") === "true" }),
      h("label", { for: "include_deleted" }, "Include deleted")),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Search")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.go(`/t/${ctx.tenant}/users`, formValues(form));
  });
  const results = h("section", { "aria-live": "polite", "aria-label": "Users found" });
  fill(view, heading("Users"), form, results);
  const filters = Object.fromEntries(q.entries());
  const paging = { cursor: null, back: [] };
  const load = async () => {
    const { data } = await api("GET", tenantPath(ctx.tenant, "/users"), {
      query: { ...filters, limit: PAGE_SIZE, cursor: paging.cursor },
    });
    fill(
      results,
      h("p", { class: "count" }, `${data.items.length} user${data.items.length === 1 ? "" : "s"} on this page`),
      table("Users", [
        { label: "Name", cell: (u) => userLink(ctx, u) },
        { label: "Email", cell: (u) => u.email || "—" },
        { label: "Username", cell: (u) => u.username || "—" },
        { label: "Role", cell: (u) => u.role },
        { label: "Type", cell: (u) => u.user_type },
        { label: "Status", cell: (u) => (u.deleted_at ? badge("deleted") : badge(u.status)) },
        { label: "Last sign-in", cell: (u) => when(u.last_login_at) },
      ], data.items, "No user matches these filters."),
      pager("Pages of users", paging, data.next_cursor, () => load().catch(ctx.fail)),
    );
  };
  await load();
}

export async function user(ctx, view, id) {
  const path = tenantPath(ctx.tenant, `/users/${encodeURIComponent(id)}`);
  const notice = h("div", { class: "notice", "aria-live": "polite" });
  const summary = h("section", { "aria-labelledby": "summary-title" });
  const actions = h("section", { "aria-labelledby": "actions-title" });
  const editing = h("section", { "aria-labelledby": "edit-title" });
  const grants = h("section", { "aria-labelledby": "grants-title" });
  const sessions = h("section", { "aria-labelledby": "sessions-title" });
  const activity = h("section", { "aria-labelledby": "activity-title" });
  const title = heading("User");
  fill(view, h("p", {}, h("a", { href: `#/t/${encodeURIComponent(ctx.tenant)}/users` }, "← All users")), title, notice,
    summary, actions, editing, grants, sessions, activity);

  let current = null;
  let etag = null;
  const refresh = async () => {
    const answer = await api("GET", path, { query: { include_deleted: "true" } });
    current = answer.data;
    etag = answer.etag;
    fill(title, current.display_name || current.username || current.email || current.id);
    renderSummary();
    renderActions();
    renderEdit();
  };

  const renderSummary = () => {
    const u = current;
    const facts = [
      ["Email", u.email || "—"], ["Username", u.username || "—"], ["Role", u.role], ["Type", u.user_type],
      ["Status", u.deleted_at ? badge("deleted") : badge(u.status)],
      ["Two-factor sign-in", u.totp_enabled_at ? "on" : "off"],
      ["Failed sign-ins", u.failed_login_attempts], ["Locked until", when(u.locked_until)],
      ["Last sign-in", when(u.last_login_at)], ["Sign-ins", u.login_count], ["Last active", when(u.last_active_at)],
      ["Identity provider", u.identity_provider ? `${u.identity_provider}: ${u.identity_provider_id}` : "—"],
      ["Created", when(u.created_at)], ["Deleted", when(u.deleted_at)], ["Version", u.version],
    ];
    fill(summary, h("h2", { id: "summary-title", class: "visually-hidden" }, "Summary"),
      h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])));
  };

  // A status action or other write on the user, sent with the version on screen.
  const act = async (label, method, suffix, describe) => {
    fill(notice);
    try {
      const answer = await api(method, `${path}${suffix}`, { ifMatch: etag });
      await refresh();
      await loadSessions();
      fill(notice, message("ok", describe ? describe(answer.data) : `${label}: done.`));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 412) await refresh();
      fill(notice, message("error", conflictText(error) || `${label}: ${problemText(error)}`));
    }
  };

  const renderActions = () => {
    const u = current;
    const buttons = [];
    if (u.deleted_at) {
      buttons.push(actionButton("Restore", "Restore this user?", () => act("Restore", "POST", "/restore")));
    } else {
      if (u.status !== "suspended") {
        buttons.push(actionButton("Suspend", "Suspend this user? Their sessions stop working.",
          () => act("Suspend", "POST", "/suspend")));
      }
      if (u.status !== "active") {
        buttons.push(actionButton("Activate", "Activate this user?", () => act("Activate", "POST", "/activate")));
      }
      if (u.status === "locked" || u.locked_until || u.failed_login_attempts > 0) {
        buttons.push(actionButton("Unlock", "Unlock this user?", () => act("Unlock", "POST", "/unlock")));
      }
      buttons.push(actionButton("Force password reset",
        "Force a password reset? The password stops working and every session ends.",
        () => act("Password reset", "POST", "/force-password-reset",
          (data) => ["Password reset forced. Deliver this reset token to the user: ",
            h("code", { class: "token" }, data.reset_token)])));
      buttons.push(actionButton("Revoke sessions", "End every session of this user?",
        () => act("Revoke sessions", "POST", "/revoke-sessions", (data) => `${data.sessions_ended} session(s) ended.`)));
      buttons.push(actionButton("Delete", "Delete this user? It can be restored later.",
        () => act("Delete", "DELETE", ""), { class: "danger" }));
    }
    fill(actions, h("h2", { id: "actions-title" }, "Actions"), h("div", { class: "actions" }, buttons));
  };

  const renderEdit = () => {
    const u = current;
    const slot = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { class: "edit", novalidate: true },
      field("Display name", input("display_name", u.display_name, { required: true, maxlength: 200 })),
      field("First name", input("first_name", u.first_name, { maxlength: 100 })),
      field("Last name", input("last_name", u.last_name, { maxlength: 100 })),
      field("Email", input("email", u.email, { type: "email", maxlength: 254 })),
      field("Username", input("username", u.username, { maxlength: 100 })),
      field("Role", select("role", ROLES, u.role)),
      field("Type", select("user_type", TYPES, u.user_type)),
      field("Time zone", input("timezone", u.timezone, { maxlength: 64 })),
      h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Save changes")),
      slot,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = new FormData(form);
      const patch = {};
      for (const name of ["display_name", "role", "user_type", "timezone"]) {
        if (values.get(name) !== (u[name] ?? "")) patch[name] = values.get(name);
      }
      for (const name of ["first_name", "last_name", "email", "username"]) {
        const value = values.get(name).trim();
        if (value !== (u[name] ?? "")) patch[name] = value === "" ? null : value;
      }
      if (!Object.keys(patch).length) {
        fill(slot, message("info", "Nothing changed."));
        return;
      }
      fill(slot);
      showFieldErrors(form, []);
      try {
        await api("PATCH", path, { body: patch, ifMatch: etag });
        await refresh();
        fill(notice, message("ok", "Changes saved."));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status === 412) {
          await showConflict(form, slot, u);
          return;
        }
        fill(slot, refusal(form, error));
      }
    });
    fill(editing, h("h2", { id: "edit-title" }, "Edit"), form);
  };

  // Someone saved the user after this page read it: keep what the admin typed, say what the other person changed,
  // and let the admin either save again over their version (now the one named by If-Match) or take theirs.
  const showConflict = async (form, slot, mine) => {
    const answer = await api("GET", path, { query: { include_deleted: "true" } });
    const theirs = answer.data;
    const labels = { display_name: "Display name", first_name: "First name", last_name: "Last name", email: "Email",
      username: "Username", role: "Role", user_type: "Type", timezone: "Time zone", status: "Status" };
    const changed = Object.entries(labels).filter(([name]) => (mine[name] ?? "") !== (theirs[name] ?? ""));
    current = theirs;
    etag = answer.etag;
    fill(notice);
    fill(title, theirs.display_name || theirs.username || theirs.email || theirs.id);
    renderSummary();
    renderActions();
    const discard = h("button", { type: "button" }, "Discard my edits and load their version");
    discard.addEventListener("click", () => {
      renderEdit();
      editing.querySelector("input")?.focus();
    });
    fill(slot, h("div", { class: "message error conflict", role: "alert" },
      h("p", {}, h("strong", {}, "Someone else changed this user after you opened it, so nothing was saved.")),
      changed.length
        ? h("ul", {}, changed.map(([name, label]) => h("li", {}, `${label} is now “${theirs[name] ?? ""}”`
          + ` (was “${mine[name] ?? ""}”).`)))
        : h("p", {}, "None of the fields on this form changed."),
      h("p", {}, "Your edits are still in the form: press Save changes again to save them over this version, or "),
      discard));
  };

  const loadGrants = async () => {
    const [{ data: held }, { data: agents }] = await Promise.all([
      api("GET", `${path}/permissions`, { query: { include_revoked: "true" } }),
      api("GET", tenantPath(ctx.tenant, "/agents")),
    ]);
    const slot = h("div", { "aria-live": "polite" });
    const rights = (g) => ["create", "read", "update", "delete"].filter((r) => g[`can_${r}`]).join(", ") || "—";
    const list = table("Agent grants", [
      { label: "Agent", cell: (g) => g.agent },
      { label: "Actions", cell: (g) => rights(g) },
      { label: "Expires", cell: (g) => when(g.expires_at) },
      { label: "Status", cell: (g) => badge(g.status) },
      { label: "", cell: (g) => (g.status === "active"
        ? actionButton("Revoke", `Revoke the grant on ${g.agent}?`, async () => {
          try {
            await api("DELETE", `${path}/permissions/${encodeURIComponent(g.agent)}`);
            await loadGrants();
            fill(notice, message("ok", `Grant on ${g.agent} revoked.`));
          } catch (error) {
            fill(notice, message("error", problemText(error)));
          }
        }, { "aria-label": `Revoke the grant on ${g.agent}` })
        : "") },
    ], held.items, "No grants.");
    const liveAgents = agents.items.filter((a) => !a.retired_at);
    const form = h(
      "form",
      { class: "grant", novalidate: true },
      field("Agent", select("agent", liveAgents.map((a) => [a.name, a.name]), liveAgents[0]?.name)),
      h("fieldset", { class: "rights" }, h("legend", {}, "Actions"),
        ["create", "read", "update", "delete"].map((r) => h("label", {},
          h("input", { type: "checkbox", name: `can_${r}`, value: "true", checked: r === "read" }), ` ${r}`))),
      field("Expires (optional)", input("expires_at", "", { type: "datetime-local" }),
        "Leave empty for a grant that lasts until revoked."),
      h("div", { class: "form-actions" }, h("button", { type: "submit", disabled: !liveAgents.length }, "Grant")),
      slot,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = new FormData(form);
      const body = {
        can_create: values.has("can_create"), can_read: values.has("can_read"),
        can_update: values.has("can_update"), can_delete: values.has("can_delete"),
      };
      const expires = isoFromLocal(values.get("expires_at"));
      if (expires) body.expires_at = expires;
      const agent = values.get("agent");
      const done = await submitting(form, slot,
        () => api("PUT", `${path}/permissions/${encodeURIComponent(agent)}`, { body }).then(() => true));
      if (done) {
        await loadGrants();
        fill(notice, message("ok", `Grant on ${agent} saved.`));
      }
    });
    fill(grants, h("h2", { id: "grants-title" }, "Agent grants"), list,
      liveAgents.length ? h("h3", {}, "Grant an agent") : h("p", {}, "The tenant has no agents to grant yet."),
      liveAgents.length ? form : null);
  };

  const loadSessions = async () => {
    const { data } = await api("GET", `${path}/sessions`).catch((error) => {
      if (error instanceof ApiError && error.status === 404) return { data: [] };
      throw error;
    });
    fill(sessions, h("h2", { id: "sessions-title" }, "Live sessions"), table("Live sessions", [
      { label: "Started", cell: (s) => when(s.created_at) },
      { label: "Last active", cell: (s) => when(s.last_active_at) },
      { label: "Expires", cell: (s) => when(s.expires_at) },
      { label: "Address", cell: (s) => s.ip_address || "—" },
      { label: "Browser", cell: (s) => s.user_agent || "—" },
    ], data, "No live sessions."));
  };

  const loadActivity = async (days = "30", bucket = "day") => {
    const { data } = await api("GET", `${path}/activity`, { query: { days, bucket } });
    const controls = h("form", { class: "filters inline", "aria-label": "Activity window" },
      field("Window", select("days", [["30", "30 days"], ["90", "90 days"], ["365", "365 days"]], days)),
      field("Per", select("bucket", [["day", "day"], ["week", "week"]], bucket)));
    controls.addEventListener("change", () => {
      const values = new FormData(controls);
      loadActivity(values.get("days"), values.get("bucket")).catch(ctx.fail);
    });
    const buckets = data.items.map((b) => ({
      label: b.start.slice(5),
      values: { bugs: b.bugs, created: b.tests_created, submitted: b.tests_submitted },
    }));
    const total = data.items.reduce((sum, b) => sum + b.bugs + b.tests_created + b.tests_submitted, 0);
    fill(activity, h("h2", { id: "activity-title" }, "Activity"), controls,
      columnChart(`Records per ${bucket}, last ${days} days: ${total} in all`, buckets, [
        { key: "bugs", label: "bugs reported" },
        { key: "created", label: "test cycles created" },
        { key: "submitted", label: "test cycles submitted" },
      ]));
  };

  await refresh();
  await Promise.all([loadGrants(), loadSessions(), loadActivity()]);
}

// The words for a write refused because the user changed since the page read it.
function conflictText(error) {
  if (error.status !== 412) return null;
  return "Someone else changed this user after you opened it, so nothing was done. The page now shows their version; "
    + "do it again if it is still needed.";
}

// ---- audit -------------------------------------------------------------------------------------------------------

const ACTIONS = ["create", "read", "update", "delete", "restore", "login", "login_failed", "logout",
  "permission_change", "status_change", "ingest"];

export async function audit(ctx, view) {
  const q = ctx.query;
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the audit log" },
    field("Action", select("action", [["", "Any action"], ...ACTIONS.map((a) => [a, a.replaceAll("_", " ")])], q.get("action"))),
    field("Resource type", input("resource_type", q.get("resource_type"), { placeholder: "user, tenant, agent…" })),
    field("Resource id", input("resource_id", q.get("resource_id"))),
    field("Actor", input("actor", q.get("actor"), { placeholder: "an id, or user, api_key, system, cli" })),
    field("From", input("since", q.get("since"), { type: "datetime-local" })),
    field("Until", input("until", q.get("until"), { type: "datetime-local" })),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.go(`/t/${ctx.tenant}/audit`, formValues(form));
  });
  const verdict = h("div", { "aria-live": "polite" });
  const verify = actionButton("Verify the chain", null, async () => {
    fill(verdict, message("info", "Checking every entry…"));
    try {
      const { data } = await api("GET", tenantPath(ctx.tenant, "/audit/verify"));
      fill(verdict, data.ok
        ? message("ok", `The chain is intact: ${data.entries_checked} entries checked, through entry ${data.last_seq}`
          + `${data.unkeyed_entries ? ` (${data.unkeyed_entries} sealed before the key was set)` : ""}.`)
        : message("error", `The chain is broken at entry ${data.first_bad_seq}: ${data.reason}. `
          + `${data.entries_checked} entries checked.`));
    } catch (error) {
      fill(verdict, message("error", problemText(error)));
    }
  });
  const results = h("section", { "aria-live": "polite", "aria-label": "Audit entries" });
  fill(view, heading("Audit log"), h("div", { class: "verify" }, verify, verdict), form, results);
  const filters = Object.fromEntries(q.entries());
  for (const name of ["since", "until"]) if (filters[name]) filters[name] = isoFromLocal(filters[name]);
  const paging = { cursor: null, back: [] };
  const load = async () => {
    const { data } = await api("GET", tenantPath(ctx.tenant, "/audit"), {
      query: { ...filters, limit: 50, cursor: paging.cursor },
    });
    const names = await userNames(ctx, data.items.flatMap((e) => [e.actor_user_id,
      e.resource_type === "user" ? e.resource_id : null]));
    fill(results, h("ol", { class: "timeline" }, data.items.map((entry) => auditEntry(ctx, entry, names))),
      data.items.length ? null : h("p", { class: "empty" }, "No entries match these filters."),
      pager("Pages of the audit log", paging, data.next_cursor, () => load().catch(ctx.fail)));
  };
  await load();
}

// The names of the users an audit page mentions (at most 50 distinct ids, read together); an id that cannot be read
// (another tenant's sysadmin, say) keeps its id.
async function userNames(ctx, ids) {
  const distinct = [...new Set(ids.filter(Boolean))].slice(0, 50);
  const pairs = await Promise.all(distinct.map((id) => api("GET", tenantPath(ctx.tenant, `/users/${id}`),
    { query: { include_deleted: "true" } })
    .then(({ data }) => [id, data.display_name || data.username || data.email || id])
    .catch(() => [id, null])));
  return new Map(pairs.filter(([, name]) => name));
}

function auditEntry(ctx, entry, names) {
  const person = (id) => h("a", { href: `#/t/${encodeURIComponent(ctx.tenant)}/users/${id}` }, names.get(id) || `user ${id}`);
  const actor = entry.actor_user_id
    ? person(entry.actor_user_id)
    : entry.actor_api_key_id ? `API key ${entry.actor_api_key_id}` : entry.actor_kind;
  const resource = entry.resource_type === "user" ? person(entry.resource_id) : `${entry.resource_type} ${entry.resource_id}`;
  const changes = entry.old_values || entry.new_values
    ? h("details", {}, h("summary", {}, "Changes"), h("pre", {}, JSON.stringify({ before: entry.old_values, after: entry.new_values }, null, 2)))
    : null;
  return h("li", { class: `entry action-${entry.action}` },
    h("div", { class: "entry-head" }, h("span", { class: "seq" }, `#${entry.seq}`), when(entry.occurred_at),
      badge(entry.action, "action")),
    h("div", {}, actor, " → ", resource, entry.ip_address ? h("span", { class: "muted" }, ` from ${entry.ip_address}`) : null),
    changes);
}

// ---- contributions ------------------------------------------------------------------------------------------------

export async function contributions(ctx, view) {
  const q = ctx.query;
  const days = q.get("days") ?? "30";
  const type = q.get("user_type") ?? "";
  const form = h("form", { class: "filters", "aria-label": "Contribution window" },
    field("Window", select("days", WINDOWS, days)),
    field("Who", select("user_type", [["", "Everyone"], ["tester", "Testers (bugs reported)"],
      ["customer", "Customers (test cycles created)"]], type)));
  form.addEventListener("change", () => ctx.go(`/t/${ctx.tenant}/contributions`, { days: "", ...formValues(form) }));
  const activeDays = days || "36500";
  const [top, active] = await Promise.all([
    api("GET", tenantPath(ctx.tenant, "/contributors/top"), { query: { days, user_type: type, limit: 10 } }),
    api("GET", tenantPath(ctx.tenant, "/users/active"), { query: { days: activeDays, user_type: type, limit: 100 } }),
  ]);
  const windowText = WINDOWS.find(([value]) => value === days)?.[1] ?? `Last ${days} days`;
  const leaders = top.data.items;
  fill(
    view,
    heading("Contributions"),
    form,
    h("section", { "aria-labelledby": "top-title" },
      h("h2", { id: "top-title" }, `Top contributors — ${windowText.toLowerCase()}`),
      leaders.length
        ? barChart(`Records per contributor, ${windowText.toLowerCase()}`,
          leaders.map((c) => ({ label: c.user.display_name || c.user.username || c.user.email, value: c.count })), "records")
        : h("p", { class: "empty" }, "No contributions in this window."),
      table("Top contributors", [
        { label: "Rank", cell: (c) => leaders.indexOf(c) + 1 },
        { label: "Name", cell: (c) => userLink(ctx, c.user) },
        { label: "Type", cell: (c) => c.user.user_type },
        { label: "Records", cell: (c) => c.count },
      ], leaders, "")),
    h("section", { "aria-labelledby": "active-title" },
      h("h2", { id: "active-title" }, `Active users — ${windowText.toLowerCase()}`),
      h("p", { class: "count" }, `${active.data.items.length}${active.data.next_cursor ? "+" : ""} seen in this window`),
      table("Active users", [
        { label: "Name", cell: (u) => userLink(ctx, u) },
        { label: "Type", cell: (u) => u.user_type },
        { label: "Last seen", cell: (u) => when(u.last_seen || u.last_active_at || u.last_login_at) },
      ], active.data.items, "Nobody was active in this window.")),
  );
}

// ---- training -----------------------------------------------------------------------------------------------------

const BOARD_SIZES = [["10", "Top 10"], ["25", "Top 25"], ["50", "Top 50"], ["100", "Top 100"]];

function twoDecimals(value) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(2);
}

export async function training(ctx, view) {
  const size = BOARD_SIZES.some(([value]) => value === ctx.query.get("limit")) ? ctx.query.get("limit") : "10";
  const form = h("form", { class: "filters", "aria-label": "Leaderboard size" },
    field("Show", select("limit", BOARD_SIZES, size)));
  form.addEventListener("change", () => ctx.go(`/t/${ctx.tenant}/training`, formValues(form)));
  const [board, scenarios] = await Promise.all([
    api("GET", tenantPath(ctx.tenant, "/training/leaderboard"), { query: { limit: size } }),
    api("GET", tenantPath(ctx.tenant, "/scenarios"), { query: { limit: 100 } }),
  ]);
  const leaders = board.data.items;
  const name = (l) => l.display_name || l.username || l.user_id;
  fill(
    view,
    heading("Training"),
    form,
    h("section", { "aria-labelledby": "board-title" },
      h("h2", { id: "board-title" }, "Leaderboard"),
      leaders.length
        ? barChart("XP per trainee", leaders.map((l) => ({ label: name(l), value: l.xp })), "XP")
        : h("p", { class: "empty" }, "Nobody has earned XP yet: a trainee appears here after a resolved session."),
      table("Training leaderboard", [
        { label: "Rank", cell: (l) => l.rank },
        { label: "Name", cell: (l) => userLink(ctx, { id: l.user_id, display_name: name(l) }) },
        { label: "Level", cell: (l) => l.level },
        { label: "XP", cell: (l) => l.xp },
        { label: "Sessions completed", cell: (l) => l.sessions_completed },
        { label: "Average score", cell: (l) => twoDecimals(l.average_overall) },
      ], leaders, "")),
    h("section", { "aria-labelledby": "scenarios-title" },
      h("h2", { id: "scenarios-title" }, "Scenarios"),
      table("Scenarios", [
        { label: "Title", cell: (c) => c.title },
        { label: "Difficulty", cell: (c) => c.difficulty },
        { label: "Minutes", cell: (c) => c.estimated_time },
        { label: "XP", cell: (c) => c.xp_reward },
        { label: "Prerequisites", cell: (c) => c.prerequisites.length },
        { label: "Status", cell: (c) => (c.is_active ? badge("active") : badge("retired", "deleted")) },
      ], scenarios.data.items, "No scenario yet."),
      scenarios.data.next_cursor ? h("p", { class: "count" }, "The first 100 scenarios.") : null),
  );
}

// ---- tenants (sysadmin) -------------------------------------------------------------------------------------------

export async function tenants(ctx, view) {
  const slot = h("div", { "aria-live": "polite" });
  const list = h("section", { "aria-label": "Tenants" });
  const form = h("form", { class: "filters", novalidate: true, "aria-label": "Create a tenant" },
    field("Slug", input("slug", "", { required: true, pattern: "[a-z0-9-]{2,63}", maxlength: 63 }),
      "2 to 63 lowercase letters, digits or dashes"),
    field("Name", input("name", "", { required: true, maxlength: 200 })),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Create tenant")), slot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = await submitting(form, slot, () => api("POST", "/v1/tenants", { body: values }).then(() => true));
    if (done) {
      form.reset();
      fill(slot, message("ok", `Tenant ${values.slug} created.`));
      await load();
    }
  });
  fill(view, heading("Tenants"), list, h("h2", {}, "New tenant"), form);
  const paging = { cursor: null, back: [] };
  const load = async () => {
    const { data } = await api("GET", "/v1/tenants", { query: { limit: 50, cursor: paging.cursor } });
    fill(list, table("Tenants", [
      { label: "Slug", cell: (t) => h("a", { href: `#/t/${encodeURIComponent(t.slug)}/users` }, t.slug) },
      { label: "Name", cell: (t) => t.name },
      { label: "Status", cell: (t) => badge(t.status) },
      { label: "Created", cell: (t) => when(t.created_at) },
      { label: "", cell: (t) => {
        const next = t.status === "active" ? "suspended" : "active";
        const label = next === "active" ? "Activate" : "Suspend";
        return actionButton(label, `${label} tenant ${t.slug}?`, async () => {
          try {
            await api("PATCH", `/v1/tenants/${encodeURIComponent(t.slug)}`, { body: { status: next }, ifMatch: `"${t.version}"` });
            await load();
            fill(slot, message("ok", `Tenant ${t.slug} is ${next}.`));
          } catch (error) {
            fill(slot, message("error", problemText(error)));
          }
        }, { "aria-label": `${label} tenant ${t.slug}` });
      } },
    ], data.items), pager("Pages of tenants", paging, data.next_cursor, () => load().catch(ctx.fail)));
  };
  await load();
}

// ---- clients ------------------------------------------------------------------------------------------------------

export async function clients(ctx, view) {
  const q = ctx.query;
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find clients" },
    field("Name", input("q", q.get("q"), { type: "search", maxlength: 100, placeholder: "part of the name" })),
    field("Exact CPF", input("cpf", q.get("cpf"), { inputmode: "numeric", maxlength: 14, placeholder: "000.000.000-00" })),
    h("div", { class: "field check" },
      h("input", { type: "checkbox", id: "include_inactive", name: "include_inactive", value: "true",
        checked: q.get("include_inactive") === "true" }),
      h("label", { for: "include_inactive" }, "Include deactivated")),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Search")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.go(`/t/${ctx.tenant}/clients`, formValues(form));
  });
  const notice = h("div", { "aria-live": "polite" });
  const results = h("section", { "aria-live": "polite", "aria-label": "Clients found" });
  const slot = h("div", { "aria-live": "polite" });
  const create = h(
    "form",
    { class: "filters", novalidate: true, "aria-label": "Register a client" },
    field("Full name", input("name", "", { required: true, maxlength: 100 })),
    field("CPF", input("cpf", "", { required: true, inputmode: "numeric", maxlength: 14 }), "11 digits, with or without dots"),
    field("Birth date", input("birth_date", "", { type: "date", required: true })),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Register client")),
    slot,
  );
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formValues(create);
    const done = await submitting(create, slot,
      () => api("POST", tenantPath(ctx.tenant, "/clients"), { body }).then(() => true));
    if (done) {
      create.reset();
      fill(slot, message("ok", `Client ${body.name} registered.`));
      await load();
    }
  });
  fill(view, heading("Clients"), form, notice, results, h("h2", {}, "New client"), create);
  const filters = Object.fromEntries(q.entries());
  const paging = { cursor: null, back: [] };
  const change = async (client, method, suffix, done) => {
    try {
      await api(method, tenantPath(ctx.tenant, `/clients/${client.id}${suffix}`), { ifMatch: `"${client.version}"` });
      await load();
      fill(notice, message("ok", done));
    } catch (error) {
      if (error.status === 412) await load();
      fill(notice, message("error", error.status === 412
        ? "Someone else changed this client meanwhile, so nothing was done; the list now shows their version."
        : problemText(error)));
    }
  };
  const load = async () => {
    const { data } = await api("GET", tenantPath(ctx.tenant, "/clients"), {
      query: { ...filters, limit: PAGE_SIZE, cursor: paging.cursor },
    });
    fill(results, table("Clients", [
      { label: "Name", cell: (c) => c.name },
      { label: "CPF", cell: (c) => c.cpf },
      { label: "Birth date", cell: (c) => c.birth_date },
      { label: "Registered", cell: (c) => when(c.created_at) },
      { label: "Status", cell: (c) => (c.is_active ? badge("active") : badge("deactivated", "deleted")) },
      { label: "", cell: (c) => (c.is_active
        ? actionButton("Deactivate", `Deactivate ${c.name}? The CPF becomes free for another client.`,
          () => change(c, "DELETE", "", `${c.name} deactivated.`), { "aria-label": `Deactivate ${c.name}` })
        : actionButton("Restore", `Restore ${c.name}?`, () => change(c, "POST", "/restore", `${c.name} restored.`),
          { "aria-label": `Restore ${c.name}` })) },
    ], data.items, "No client matches."), pager("Pages of clients", paging, data.next_cursor, () => load().catch(ctx.fail)));
  };
  await load();
}
