// The public API from the browser: every call sends the bearer token; errors are the
// server's problem documents (RFC 9457), turned into ApiError with a readable message.

// "title: detail (field: message; ...)" of a problem document
export function problemMessage(problem, fallback) {
  const title = problem.title || fallback;
  const detail = problem.detail || "";
  let message = detail && detail !== title ? `${title}: ${detail}` : title;
  const fields = (problem.errors || [])
    .filter((error) => error.message && error.message !== detail)
    .map((error) => (error.field ? `${error.field}: ${error.message}` : error.message));
  if (fields.length) message += ` (${fields.join("; ")})`;
  return message;
}

export class ApiError extends Error {
  constructor(status, title, detail, message = null) {
    super(message || (detail && detail !== title ? `${title}: ${detail}` : title));
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

export async function problemOf(response) {
  const fallback = response.statusText || `HTTP ${response.status}`;
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // not a problem document: the status says enough
  }
  return new ApiError(response.status, problem.title || fallback, problem.detail || "", problemMessage(problem, fallback));
}

export async function login(email, password) {
  const response = await fetch("/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw await problemOf(response);
  return response.json();
}

export class Api {
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async request(method, path, { ok = [200], headers = {}, body, signal } = {}) {
    let response;
    try {
      response = await fetch(path, { method, headers: this.headers(headers), body, signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "The server cannot be reached", "check your connection and try again");
    }
    if (!ok.includes(response.status)) {
      const error = await problemOf(response);
      if (response.status === 401) this.onUnauthorized(error);
      throw error;
    }
    return response;
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

  async remove(jobId) {
    await this.request("DELETE", `/v1/jobs/${jobId}`, { ok: [204] });
  }

  async mp3(job) {
    const response = await this.request("GET", job.mp3.download_url);
    return response.blob();
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
