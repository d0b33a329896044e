// Resumable uploads over tus 1.0.0: the upload's URL is kept in localStorage (by file name,
// size, modification time and options), so dropping the same file again after a reload or
// a lost connection goes on from the offset the server reports.

import { ApiError, problemMessage, problemOf } from "./api.js";

const TUS = { "Tus-Resumable": "1.0.0" };
const CHUNK = 8 * 1024 * 1024;
const RETRIES = 5;

function base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function encodeMetadata(values) {
  return Object.entries(values).map(([key, value]) => `${key} ${base64(String(value))}`).join(",");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function jobOf(location) {
  return location ? location.replace(/\/$/, "").split("/").pop() : null;
}

class Retry extends Error {}

export class TusUpload {
  constructor(api, file, options, onProgress) {
    this.api = api;
    this.file = file;
    this.onProgress = onProgress;
    this.metadata = encodeMetadata({ filename: file.name, filetype: file.type || "application/octet-stream", ...options });
    this.key = `vidmp3.upload:${file.name}:${file.size}:${file.lastModified}:${this.metadata}`;
    this.resumedFrom = 0;
  }

  // Upload (or finish uploading) the file; resolves to the job id.
  async start() {
    let url = localStorage.getItem(this.key);
    let offset = 0;
    let job = null;
    if (url) {
      try {
        ({ offset, job } = await this.where(url));
        this.resumedFrom = offset;
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 404) throw error;
        localStorage.removeItem(this.key);
        url = null;
      }
    }
    if (!url) {
      const created = await this.api.request("POST", "/v1/uploads", {
        ok: [201],
        headers: { ...TUS, "Upload-Length": String(this.file.size), "Upload-Metadata": this.metadata },
      });
      url = created.headers.get("Location");
      localStorage.setItem(this.key, url);
    }
    this.onProgress(offset, this.file.size);
    let failures = 0;
    while (!job) {
      try {
        ({ offset, job } = await this.patch(url, offset));
        failures = 0;
      } catch (error) {
        if (!(error instanceof Retry)) {
          if (error instanceof ApiError && [404, 413, 422].includes(error.status)) localStorage.removeItem(this.key);
          throw error;
        }
        failures += 1;
        if (failures > RETRIES) throw new ApiError(0, "The upload keeps failing", "drop the file again later to resume it");
        await sleep(Math.min(500 * 2 ** failures, 8000));
        try {
          ({ offset, job } = await this.where(url));
        } catch (headError) {
          if (!(headError instanceof Retry)) throw headError;
        }
        this.onProgress(offset, this.file.size);
      }
    }
    localStorage.removeItem(this.key);
    this.onProgress(this.file.size, this.file.size);
    return job;
  }

  async where(url) {
    let response;
    try {
      response = await fetch(url, { method: "HEAD", headers: this.api.headers(TUS), cache: "no-store" });
    } catch {
      throw new Retry("the server cannot be reached");
    }
    if (response.status >= 500 || response.status === 423) throw new Retry(`HEAD answered ${response.status}`);
    if (response.status !== 200) throw await problemOf(response);
    return { offset: Number(response.headers.get("Upload-Offset")), job: jobOf(response.headers.get("Job-Location")) };
  }

  // One PATCH of up to CHUNK bytes from offset, with progress events (XMLHttpRequest has them).
  patch(url, offset) {
    const body = this.file.slice(offset, Math.min(offset + CHUNK, this.file.size));
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PATCH", url);
      for (const [name, value] of Object.entries(this.api.headers({ ...TUS, "Upload-Offset": String(offset) }))) {
        request.setRequestHeader(name, value);
      }
      request.setRequestHeader("Content-Type", "application/offset+octet-stream");
      request.upload.onprogress = (event) => this.onProgress(offset + event.loaded, this.file.size);
      request.onerror = () => reject(new Retry("the connection was lost"));
      request.onload = () => {
        const status = request.status;
        if (status === 204) {
          resolve({ offset: Number(request.getResponseHeader("Upload-Offset")), job: jobOf(request.getResponseHeader("Job-Location")) });
        } else if (status >= 500 || status === 409 || status === 423) {
          reject(new Retry(`PATCH answered ${status}`));
        } else {
          let problem = {};
          try {
            problem = JSON.parse(request.responseText);
          } catch {
            // not a problem document
          }
          const fallback = request.statusText || `HTTP ${status}`;
          reject(new ApiError(status, problem.title || fallback, problem.detail || "", problemMessage(problem, fallback)));
        }
      };
      request.send(body);
    });
  }
}
