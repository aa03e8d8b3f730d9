// The engine's public API, as the portal uses it: SSO login, then JSON requests with the bearer token.
// Everything the portal does goes through here, so anything it does can be scripted with the same calls.

const ENGINE = "/ovirt-engine";
const TOKEN_KEY = "extnet.portal.token";
const USER_KEY = "extnet.portal.user";

/** A refused request: the engine's fault (reason and detail), shown to the user as it is. */
export class Fault extends Error {
  constructor(status, reason, detail) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.status = status;
    this.reason = reason;
    this.detail = detail || "";
  }
}

const listeners = new Set();

/** Called with no argument when the session ends (logout, or a token the engine no longer accepts). */
export function onLoggedOut(listener) {
  listeners.add(listener);
}

export function currentUser() {
  return sessionStorage.getItem(TOKEN_KEY) ? sessionStorage.getItem(USER_KEY) : null;
}

function endSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  for (const listener of listeners) listener();
}

/** Log in through the engine's SSO; throws a Fault with the SSO's own description when refused. */
export async function login(username, password) {
  const form = new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username, password });
  const response = await fetch(`${ENGINE}/sso/oauth/token`, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new Fault(response.status, "Login failed", body.error_description || body.error || response.statusText);
  }
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  sessionStorage.setItem(USER_KEY, username);
}

export async function logout() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    const headers = { Authorization: `Bearer ${token}` };
    await fetch(`${ENGINE}/services/sso-logout`, { method: "POST", headers }).catch(() => {});
  }
  endSession();
}

function url(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  return `${ENGINE}/api/${path}${text ? `?${text}` : ""}`;
}

/** One request to /ovirt-engine/api/<path>; the parsed JSON answer, or a Fault. */
export async function request(method, path, { body, params } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { reason: response.statusText, detail: text.slice(0, 300) };
  }
  if (response.status === 401) {
    endSession();
  }
  if (!response.ok) {
    throw new Fault(response.status, parsed.reason || response.statusText, parsed.detail);
  }
  return parsed;
}

/** The entities of a collection: the one list in the JSON answer ({"vm": [...]}), or none. */
export async function list(path, params) {
  const answer = await request("GET", path, { params });
  const found = Object.values(answer).find((value) => Array.isArray(value));
  return found || [];
}

export const get = (path, params) => request("GET", path, { params });
export const add = (path, body, params) => request("POST", path, { body, params });
export const update = (path, body) => request("PUT", path, { body });
export const remove = (path, params) => request("DELETE", path, { params });
export const action = (path, name, body = {}) => request("POST", `${path}/${name}`, { body });

/** The path below /api of an entity's href ("/ovirt-engine/api/vms/1" -> "vms/1"). */
export function pathOf(entity) {
  return entity.href.slice(`${ENGINE}/api/`.length);
}
