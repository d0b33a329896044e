// Errors for people: the server's problem documents (RFC 9457) carry a `detail` written for
// the person using the page; that is what the page shows, never a library's message. When a
// body has none (a proxy's error page, a dropped connection), a sentence for the status.

const BY_STATUS = {
  0: "The server cannot be reached. Check your connection and try again.",
  401: "You are signed out. Please sign in again.",
  403: "Your account may not do this.",
  404: "This was not found. It may have been deleted.",
  409: "This cannot be done in the job's current state.",
  413: "The file is too large.",
  422: "The file cannot be converted.",
  429: "Too many attempts. Wait a minute and try again.",
  500: "Something went wrong on the server. Try again in a little while.",
  503: "The service is busy or down for a moment. Try again in a little while.",
};

export function sentenceFor(status) {
  return BY_STATUS[status] || BY_STATUS[status >= 500 ? 500 : 0];
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || sentenceFor(status));
    this.status = status;
  }
}

export function networkError() {
  return new ApiError(0, "");
}

// A problem document's detail, from its parsed body (or null).
export function detailOf(problem) {
  return problem && typeof problem.detail === "string" && problem.detail.trim() ? problem.detail.trim() : "";
}

export async function problemOf(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // not a problem document: the status says enough
  }
  return new ApiError(response.status, detailOf(problem));
}

export function problemOfText(status, text) {
  let problem = null;
  try {
    problem = JSON.parse(text);
  } catch {
    // not a problem document
  }
  return new ApiError(status, detailOf(problem));
}
