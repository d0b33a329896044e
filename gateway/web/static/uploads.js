// Resumable uploads with tus-js-client (loaded from /app/vendor/tus.min.js, installed by
// npm). The client remembers each unfinished upload in localStorage by file and options,
// so dropping the same file again after a reload or a lost connection resumes it; its retry
// delays are the page's only backoff. A 401 renews the session's token and retries, so an
// upload outlives the access token, and waits for a new sign-in if the session ended.

import { ApiError, networkError, problemOfText } from "./problems.js";

const CHUNK_BYTES = 8 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000];
const RETRY_STATUSES = new Set([401, 409, 423]); // expired token, offset race, upload busy

function statusOf(error) {
  return error?.originalResponse ? error.originalResponse.getStatus() : 0;
}

// What went wrong, for people: the server's detail when it answered, else a sentence.
function readable(error) {
  const response = error?.originalResponse;
  if (!response) return networkError();
  return problemOfText(response.getStatus(), response.getBody() || "");
}

export function jobIdOf(uploadUrl) {
  return uploadUrl ? uploadUrl.replace(/\/$/, "").split("/").pop() : null;
}

// Upload `file` with conversion `options` (text values, as tus metadata carries them).
// `events`: created(jobId), progress(sent, total), resumed(offset, total), retrying(),
// done(jobId), failed(ApiError). Returns { pause(), stop() }: stop also removes the upload.
export function startUpload(session, file, options, events) {
  if (!window.tus) throw new ApiError(0, "The page could not load its upload library. Reload the page.");
  let stopped = false;
  let announcedJob = null;
  const metadata = { filename: file.name, filetype: file.type || "application/octet-stream", ...options };
  const fingerprint = `vidmp3:${file.name}:${file.size}:${file.lastModified}:${JSON.stringify(metadata)}`;
  const announce = (url) => {
    const jobId = jobIdOf(url);
    if (jobId && jobId !== announcedJob) {
      announcedJob = jobId;
      events.created(jobId);
    }
  };
  const upload = new window.tus.Upload(file, {
    endpoint: "/v1/uploads",
    chunkSize: CHUNK_BYTES,
    retryDelays: RETRY_DELAYS,
    metadata,
    fingerprint: () => Promise.resolve(fingerprint),
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    async onBeforeRequest(request) {
      request.setHeader("Authorization", `Bearer ${await session.accessToken()}`);
    },
    onShouldRetry(error) {
      const status = statusOf(error);
      if (status === 401) session.expiresAt = 0; // the next request asks for a fresh token first
      // (after stop() this is the removal, which a PATCH still being cut off may hold up: 423)
      const retry = status === 0 || status >= 500 || RETRY_STATUSES.has(status);
      if (retry && !stopped) events.retrying();
      return retry;
    },
    onAfterResponse(request, response) {
      if (request.getMethod() === "POST") announce(response.getHeader("Location"));
      if (request.getMethod() === "HEAD" && response.getStatus() === 200) {
        announce(upload.url);
        events.resumed(Number(response.getHeader("Upload-Offset")), file.size);
      }
    },
    onProgress(sent, total) {
      events.progress(sent, total);
    },
    onSuccess() {
      events.done(jobIdOf(upload.url));
    },
    onError(error) {
      if (!stopped) events.failed(readable(error));
    },
  });
  upload
    .findPreviousUploads()
    .then((previous) => {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      if (!stopped) upload.start();
    })
    .catch(() => upload.start());
  return {
    // stop sending, keeping what the server has: dropping the file again resumes it
    pause() {
      stopped = true;
      upload.abort(false).catch(() => {});
    },
    async stop() {
      stopped = true;
      // true: the server removes what it stored, and the resume entry is dropped
      await upload.abort(true).catch(() => {});
    },
  };
}
