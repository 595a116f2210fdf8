// The console's shell: sign-in, the header and its navigation, and the page the address names (#/t/{tenant}/users,
// #/t/{tenant}/users/{id}, #/t/{tenant}/audit, #/t/{tenant}/contributions, #/t/{tenant}/clients, #/t/{tenant}/training,
// #/tenants).

import { api, setSession, whenSignedOut, ApiError } from "./api.js";
import * as pages from "./pages.js";
import { field, fill, h, input, message, problemText } from "./ui.js";

const top = document.getElementById("top");
const main = document.getElementById("main");
let session = null;

function place() {
  const [path, query] = (window.location.hash.replace(/^#/, "") || "/").split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

function go(path, query = {}) {
  const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const hash = `#${path}${search.toString() ? `?${search}` : ""}`;
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function fail(error) {
  fill(main, h("h1", { tabindex: "-1" }, "Something went wrong"),
    message("error", error instanceof ApiError ? problemText(error) : String(error)));
  main.querySelector("h1").focus();
}

function signedOut(error) {
  session = null;
  setSession(null);
  showSignIn(error ? "Your session has ended; sign in again." : null);
}

function showSignIn(note) {
  fill(top, h("div", { class: "bar" }, h("span", { class: "brand" }, "roster console")));
  const slot = h("div", { "aria-live": "polite" }, note ? message("info", note) : null);
  const code = field("Authenticator code", input("totp_code", "", {
    inputmode: "numeric", autocomplete: "one-time-code", maxlength: 10,
  }));
  code.hidden = true;
  const remembered = window.localStorage.getItem("roster.console.tenant") || "";
  const form = h(
    "form",
    { class: "signin", novalidate: true },
    h("h1", { tabindex: "-1" }, "Sign in"),
    h("p", {}, "For the admins and sysadmins of a tenant."),
    field("Tenant", input("tenant", remembered, { required: true, autocomplete: "organization", autocapitalize: "none" })),
    field("Email or username", input("login", "", { required: true, autocomplete: "username", autocapitalize: "none" })),
    field("Password", input("password", "", { type: "password", required: true, autocomplete: "current-password" })),
    code,
    h("button", { type: "submit" }, "Sign in"),
    slot,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const login = values.get("login").trim();
    const body = { tenant: values.get("tenant").trim(), password: values.get("password") };
    body[login.includes("@") ? "email" : "username"] = login;
    if (!code.hidden && values.get("totp_code")) body.totp_code = values.get("totp_code").trim();
    const button = form.querySelector("button");
    button.disabled = true;
    fill(slot);
    try {
      const { data } = await api("POST", "/console/session", { body, signingIn: true });
      window.localStorage.setItem("roster.console.tenant", body.tenant);
      start(data);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.kind === "totp-required") {
        code.hidden = false;
        fill(slot, message("info", "Enter the code from your authenticator app."));
        code.querySelector("input").focus();
      } else {
        fill(slot, message("error", problemText(error)));
      }
    } finally {
      button.disabled = false;
    }
  });
  fill(main, form);
  form.querySelector(remembered ? "[name=login]" : "[name=tenant]").focus();
}

function start(data) {
  session = data;
  setSession(data.csrf_token);
  if (!window.location.hash || window.location.hash === "#/" || window.location.hash === "#/signin") {
    go(`/t/${data.tenant}/users`);
  } else {
    render();
  }
}

function header(tenant, section) {
  const link = (href, label, name) => h("a", { href, "aria-current": section === name ? "page" : null }, label);
  const base = `#/t/${encodeURIComponent(tenant)}`;
  const signOut = h("button", { type: "button", class: "link" }, "Sign out");
  signOut.addEventListener("click", async () => {
    try {
      await api("DELETE", "/console/session");
    } finally {
      signedOut(null);
      window.location.hash = "#/signin";
    }
  });
  const isSysadmin = session.user.role === "sysadmin";
  fill(top, h("div", { class: "bar" },
    h("a", { class: "brand", href: `${base}/users` }, "roster console"),
    h("span", { class: "tenant", title: "The tenant on screen" }, tenant),
    h("nav", { "aria-label": "Console" }, h("ul", {},
      h("li", {}, link(`${base}/users`, "Users", "users")),
      h("li", {}, link(`${base}/audit`, "Audit log", "audit")),
      h("li", {}, link(`${base}/contributions`, "Contributions", "contributions")),
      h("li", {}, link(`${base}/clients`, "Clients", "clients")),
      h("li", {}, link(`${base}/training`, "Training", "training")),
      isSysadmin ? h("li", {}, link("#/tenants", "Tenants", "tenants")) : null)),
    h("span", { class: "who" }, `${session.user.display_name} (${session.user.role})`),
    signOut));
}

async function render() {
  if (!session) return;
  const { parts, query } = place();
  const view = h("div", { class: "page" });
  fill(main, view);
  const ctx = { query, go, fail, session, tenant: session.tenant };
  try {
    if (parts[0] === "tenants") {
      header(session.tenant, "tenants");
      await pages.tenants(ctx, view);
    } else if (parts[0] === "t" && parts[1]) {
      ctx.tenant = parts[1];
      const section = parts[2] || "users";
      header(ctx.tenant, section);
      if (section === "users" && parts[3]) await pages.user(ctx, view, parts[3]);
      else if (section === "users") await pages.users(ctx, view);
      else if (section === "audit") await pages.audit(ctx, view);
      else if (section === "contributions") await pages.contributions(ctx, view);
      else if (section === "clients") await pages.clients(ctx, view);
      else if (section === "training") await pages.training(ctx, view);
      else throw new Error(`no such page: ${section}`);
    } else {
      go(`/t/${session.tenant}/users`);
      return;
    }
    document.title = `${main.querySelector("h1")?.textContent || "console"} · roster`;
    main.querySelector("h1")?.focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    fail(error);
  }
}

whenSignedOut(signedOut);
// the skip link moves focus without touching the address, which names the page
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", render);

api("GET", "/console/session", { signingIn: true })
  .then(({ data }) => start(data))
  .catch(() => showSignIn(null));
