// The public API from the browser: every call carries the session's access token; a 401
// renews it (or waits for the person to sign in again) and the call is made once more.

import { ApiError, networkError, problemOf } from "./problems.js";

export class Api {
  constructor(session) {
    this.session = session;
  }

  async request(method, path, { ok = [200], headers = {}, body, signal } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.session.accessToken();
      let response;
      try {
        response = await fetch(path, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...headers },
          body,
          signal,
          cache: "no-store",
        });
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw networkError();
      }
      if (response.status === 401 && attempt === 0) {
        await this.session.rejected(token);
        continue;
      }
      if (!ok.includes(response.status)) throw await problemOf(response);
      return response;
    }
  }

  async jobs(limit = 50) {
    return (await this.request("GET", `/v1/jobs?limit=${limit}`)).json();
  }

  async job(jobId) {
    return (await this.request("GET", `/v1/jobs/${jobId}`)).json();
  }

  async cancel(jobId) {
    return (await this.request("POST", `/v1/jobs/${jobId}/cancel`)).json();
  }

  async keys() {
    return (await (await this.request("GET", "/v1/keys")).json()).keys;
  }

  async createKey(body) {
    const response = await this.request("POST", "/v1/keys", {
      ok: [201],
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return response.json();
  }

  async revokeKey(keyId) {
    await this.request("DELETE", `/v1/keys/${keyId}`, { ok: [204] });
  }

  async remove(jobId) {
    await this.request("DELETE", `/v1/jobs/${jobId}`, { ok: [204] });
  }

  // The MP3's cover image as an object URL, or null when it has none (404) or the server
  // does not offer covers yet.
  async cover(jobId) {
    try {
      const response = await this.request("GET", `/v1/jobs/${jobId}/cover`, { ok: [200] });
      return URL.createObjectURL(await response.blob());
    } catch (error) {
      if (error instanceof ApiError) return null;
      throw error;
    }
  }

  // The job's status as server-sent events, read with fetch (EventSource cannot send the
  // Authorization header): yields each {event, data} until the server ends the stream.
  async *events(jobId, signal) {
    const response = await this.request("GET", `/v1/jobs/${jobId}/events`, { signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "message";
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length) yield { event, data: data.join("\n") };
          event = "message";
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "event") event = text;
          else if (name === "data") data.push(text);
        }
      }
    }
  }
}
