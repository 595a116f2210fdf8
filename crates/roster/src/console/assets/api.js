// The console's only way to the server: the JSON API, signed in by the session cookie. Writes carry the session's
// CSRF token; every refusal arrives as a problem+json document and is thrown as an ApiError.

let csrfToken = null;
let onSignedOut = () => {};

export function setSession(token) {
  csrfToken = token;
}

// Called when the server no longer knows the session (expired, revoked, signed out elsewhere).
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }

  // The problem type's last part: "precondition-failed", "totp-required", …
  get kind() {
    return String(this.problem.type || "").split(":").pop();
  }
}

// method, path and, optionally, { query, body, ifMatch }. Answers { data, etag }.
export async function api(method, path, options = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(options.query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (options.ifMatch) headers["If-Match"] = options.ifMatch;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, { title: "No answer", detail: `the server could not be reached (${e.message})` });
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { title: response.statusText, detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data || { title: response.statusText });
    if (response.status === 401 && !options.signingIn) onSignedOut(error);
    throw error;
  }
  return { data, etag: response.headers.get("ETag") };
}

// Paths of a tenant's API.
export function tenantPath(slug, rest = "") {
  return `/v1/tenants/${encodeURIComponent(slug)}${rest}`;
}
