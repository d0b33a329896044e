// The signed-in session. The access token lives in this tab's memory only; the refresh
// token is an HttpOnly cookie (scoped to /v1/auth) the page never sees. At load the page
// asks /v1/auth/refresh for an access token, so a reload or a second tab stays signed in;
// it refreshes again a minute before the token expires, and when the server says the token
// is no longer good. Refreshes are serialized across tabs (Web Locks): each one rotates the
// cookie, and two tabs presenting the same cookie at once would look like a stolen one.
//
// When no refresh works any more, whoever waits for a token waits until the person signs in
// again: an upload started before that goes on afterwards instead of being lost.

import { problemOf, networkError } from "./problems.js";

const REFRESH_EARLY_MS = 60_000;
const LOCK = "vidmp3-refresh";
const CHANNEL = "vidmp3-session";

function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

async function post(path, body) {
  const init = { method: "POST", credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw networkError();
  }
}

function exclusively(work) {
  // one refresh at a time across this browser's tabs; without Web Locks, within this tab
  if (navigator.locks) return navigator.locks.request(LOCK, work);
  return work();
}

export class Session {
  constructor() {
    this.token = null;
    this.email = "";
    this.expiresAt = 0;
    this.margin = REFRESH_EARLY_MS;
    this.timer = null;
    this.refreshing = null;
    this.waiters = [];
    this.listeners = { signedIn: [], signedOut: [], needed: [] };
    this.channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
    this.channel?.addEventListener("message", (event) => this.fromAnotherTab(event.data));
  }

  on(name, listener) {
    this.listeners[name].push(listener);
  }

  emit(name, ...args) {
    for (const listener of this.listeners[name]) listener(...args);
  }

  get active() {
    return this.token !== null;
  }

  // Take over the session the refresh cookie holds (a reload, a new tab); false if there is none.
  async restore() {
    return (await this.refresh({ quiet: true })) !== null;
  }

  async signIn(email, password) {
    const response = await post("/v1/auth/login", { email, password });
    if (!response.ok) throw await problemOf(response);
    this.accept(await response.json());
    this.channel?.postMessage({ type: "signed-in" });
  }

  async signOut() {
    this.forget();
    try {
      await post("/v1/auth/logout");
    } catch {
      // offline: the cookie expires on its own; this tab has forgotten the token already
    }
    this.channel?.postMessage({ type: "signed-out" });
    this.emit("signedOut", "");
  }

  // A token good for at least the next minute, refreshed if need be; waits for a sign-in
  // when the session cannot be renewed.
  async accessToken() {
    if (this.token && Date.now() < this.expiresAt - this.margin) return this.token;
    const token = await this.refresh();
    if (token) return token;
    if (this.token && Date.now() < this.expiresAt - 2000) return this.token; // not renewed, still good
    return this.signInAgain();
  }

  // The server refused `token` (401): renew it unless that happened already, then hand out the new one.
  async rejected(token) {
    if (token && token !== this.token) return this.accessToken();
    this.expiresAt = 0;
    return this.accessToken();
  }

  // A new access token from the refresh cookie, or null (no cookie, expired, revoked).
  refresh({ quiet = false } = {}) {
    if (!this.refreshing) {
      this.refreshing = exclusively(async () => {
        let response;
        try {
          response = await post("/v1/auth/refresh");
        } catch (error) {
          if (quiet) return null;
          throw error;
        }
        if (!response.ok) return null;
        return this.accept(await response.json());
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  accept(answer) {
    const wasActive = this.active;
    this.token = answer.access_token;
    this.expiresAt = Date.now() + answer.expires_in * 1000;
    this.email = claimsOf(this.token).email || this.email;
    // renew a minute ahead, or a quarter of the lifetime ahead for short-lived tokens
    const lifetime = answer.expires_in * 1000;
    this.margin = Math.min(REFRESH_EARLY_MS, lifetime / 4);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.renewOrLapse(), lifetime - this.margin);
    for (const resolve of this.waiters.splice(0)) resolve(this.token);
    if (!wasActive) this.emit("signedIn", this.email);
    return this.token;
  }

  forget() {
    clearTimeout(this.timer);
    this.token = null;
    this.expiresAt = 0;
  }

  // Renew ahead of expiry; if that fails, the token still serves until it expires.
  async renewOrLapse() {
    if (await this.refresh({ quiet: true })) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.lapse(), Math.max(0, this.expiresAt - Date.now()));
  }

  // The session ended on its own (the refresh token expired or was revoked).
  lapse() {
    if (!this.active) return;
    this.forget();
    this.emit("needed", "Your session has ended: please sign in again.");
  }

  signInAgain() {
    this.forget();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.emit("needed", "Please sign in again to go on: your uploads continue once you have.");
    });
  }

  fromAnotherTab(message) {
    if (message?.type === "signed-out" && this.active) {
      this.forget();
      this.emit("signedOut", "You signed out in another tab.");
    } else if (message?.type === "signed-in" && !this.active) {
      this.refresh({ quiet: true });
    }
  }
}
