// The vidmp3 page: sign in, drop videos (resumable tus uploads), follow each job live,
// download or delete it. Plain DOM, no framework, no build step.

import { Api, ApiError, login } from "./api.js";
import { optionValues, renderOptions } from "./options.js";
import { TusUpload } from "./tus.js";

const TERMINAL = new Set(["notified", "failed", "cancelled"]);
const CANCELLABLE = new Set(["queued", "converting"]);
const SESSION_KEY = "vidmp3.session";

const $ = (selector) => document.querySelector(selector);
const ui = {
  signInScreen: $("#sign-in-screen"),
  signInForm: $("#sign-in-form"),
  signInError: $("#sign-in-error"),
  signInButton: $("#sign-in-button"),
  appScreen: $("#app-screen"),
  account: $("#account"),
  who: $("#who"),
  signOut: $("#sign-out"),
  options: $("#options"),
  files: $("#files"),
  dropzone: $("#dropzone"),
  uploads: $("#uploads"),
  jobs: $("#jobs"),
  jobsEmpty: $("#jobs-empty"),
  refresh: $("#refresh"),
  appError: $("#app-error"),
  announcer: $("#announcer"),
};

let api = null;
const followers = new Map(); // job id -> AbortController of its event stream

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function announce(text) {
  ui.announcer.textContent = text;
}

function showError(target, error) {
  target.textContent = error instanceof Error ? error.message : String(error);
  target.hidden = false;
}

function stateBadge(state) {
  return element("span", { class: `state state-${state}` }, state);
}

// --- session -------------------------------------------------------------

function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function storedSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    return session && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

function signOut(reason) {
  sessionStorage.removeItem(SESSION_KEY);
  for (const controller of followers.values()) controller.abort();
  followers.clear();
  api = null;
  ui.jobs.replaceChildren();
  ui.uploads.replaceChildren();
  ui.appScreen.hidden = true;
  ui.account.hidden = true;
  ui.signInScreen.hidden = false;
  ui.signInError.hidden = !reason;
  if (reason) ui.signInError.textContent = reason;
  $("#email").focus();
}

async function enter(session) {
  api = new Api(session.token, () => signOut("Your session has expired: please sign in again."));
  ui.who.textContent = session.email;
  ui.account.hidden = false;
  ui.signInScreen.hidden = true;
  ui.appScreen.hidden = false;
  ui.appError.hidden = true;
  await Promise.all([loadOptions(), loadJobs()]);
  $("#upload-title").setAttribute("tabindex", "-1");
  $("#upload-title").focus();
}

ui.signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.signInError.hidden = true;
  ui.signInButton.disabled = true;
  const email = $("#email").value.trim();
  try {
    const answer = await login(email, $("#password").value);
    const session = { token: answer.access_token, email, expiresAt: Date.now() + answer.expires_in * 1000 };
    saveSession(session);
    $("#password").value = "";
    await enter(session);
  } catch (error) {
    const message = error instanceof ApiError && error.status === 401 ? "Wrong email or password." : error.message;
    showError(ui.signInError, `Sign-in failed: ${message}`);
    $("#password").focus();
  } finally {
    ui.signInButton.disabled = false;
  }
});

ui.signOut.addEventListener("click", () => signOut(""));

// --- options -------------------------------------------------------------

async function loadOptions() {
  if (ui.options.dataset.loaded) return;
  const response = await fetch("/app/options.json");
  renderOptions(ui.options, await response.json());
  ui.options.dataset.loaded = "yes";
}

// --- uploads -------------------------------------------------------------

function uploadRow(file) {
  const label = `Upload of ${file.name}`;
  const bar = element("progress", { max: "100", value: "0", "aria-label": label });
  const state = stateBadge("uploading");
  const detail = element("span", { class: "detail" }, "starting…");
  const row = element(
    "li",
    { class: "item upload" },
    element("div", { class: "item-head" }, element("span", { class: "name" }, file.name), state),
    bar,
    detail,
  );
  ui.uploads.prepend(row);
  return { row, bar, state, detail };
}

async function uploadFile(file, options) {
  const view = uploadRow(file);
  const upload = new TusUpload(api, file, options, (sent, total) => {
    const percent = total ? Math.floor((sent / total) * 100) : 0;
    const resumed = upload.resumedFrom ? ` · resumed at ${Math.floor((upload.resumedFrom / total) * 100)} %` : "";
    view.bar.value = percent;
    view.detail.textContent = `${percent} % of ${(total / 1048576).toFixed(1)} MB${resumed}`;
  });
  announce(`Uploading ${file.name}`);
  try {
    const jobId = await upload.start();
    view.state.replaceWith((view.state = stateBadge("uploaded")));
    announce(`${file.name} uploaded`);
    const job = await api.job(jobId);
    showJob(job, { prepend: true });
    follow(job);
    setTimeout(() => view.row.remove(), 4000);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    view.state.replaceWith((view.state = stateBadge("refused")));
    view.detail.textContent = error.message;
    view.detail.className = "detail error";
    announce(`${file.name}: ${error.message}`);
  }
}

function startUploads(files) {
  if (!api || !files.length) return;
  const options = optionValues(ui.options);
  for (const file of files) uploadFile(file, options);
}

ui.files.addEventListener("change", () => {
  startUploads([...ui.files.files]);
  ui.files.value = "";
});
for (const name of ["dragenter", "dragover"]) {
  ui.dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    ui.dropzone.classList.add("dragging");
  });
}
for (const name of ["dragleave", "drop"]) {
  ui.dropzone.addEventListener(name, () => ui.dropzone.classList.remove("dragging"));
}
ui.dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  startUploads([...event.dataTransfer.files]);
});

// --- jobs ----------------------------------------------------------------

async function loadJobs() {
  try {
    const page = await api.jobs();
    ui.jobs.replaceChildren();
    for (const job of page.items) {
      showJob(job);
      follow(job);
    }
    ui.jobsEmpty.hidden = page.items.length > 0;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(ui.appError, error);
  }
}

function jobRow(jobId) {
  return ui.jobs.querySelector(`[data-job-id="${jobId}"]`);
}

function showJob(job, { prepend = false } = {}) {
  const name = job.filename || job.job_id;
  const actions = element("div", { class: "actions" });
  if (job.mp3) {
    actions.append(element("button", { type: "button", class: "download", "aria-label": `Download ${job.mp3.filename}`, onclick: () => download(job) }, "Download MP3"));
  }
  if (CANCELLABLE.has(job.state)) {
    actions.append(element("button", { type: "button", class: "secondary", "aria-label": `Cancel ${name}`, onclick: () => cancel(job) }, "Cancel"));
  }
  actions.append(element("button", { type: "button", class: "danger", "aria-label": `Delete ${name}`, onclick: () => remove(job) }, "Delete"));
  const parts = [element("div", { class: "item-head" }, element("span", { class: "name" }, name), stateBadge(job.state))];
  if (job.state === "converting" || job.state === "queued") {
    const percent = job.progress_percent ?? 0;
    parts.push(element("progress", { max: "100", value: String(percent), "aria-label": `Conversion of ${name}` }));
  }
  if (job.mp3 && job.mp3.duration_seconds) {
    parts.push(element("span", { class: "detail" }, `${job.mp3.filename} · ${job.mp3.duration_seconds.toFixed(1)} s`));
  }
  if (job.error) parts.push(element("span", { class: "detail error" }, job.error.message));
  parts.push(actions);
  const row = element("li", { class: "item job", "data-job-id": job.job_id, "data-state": job.state }, ...parts);
  const existing = jobRow(job.job_id);
  if (existing) {
    const focused = existing.contains(document.activeElement) ? document.activeElement.textContent : null;
    existing.replaceWith(row);
    if (focused) [...row.querySelectorAll("button")].find((b) => b.textContent === focused)?.focus();
  } else if (prepend) ui.jobs.prepend(row);
  else ui.jobs.append(row);
  ui.jobsEmpty.hidden = true;
}

// Live state: the job's event stream while it is unfinished; polling if the stream fails.
async function follow(job) {
  if (TERMINAL.has(job.state) || followers.has(job.job_id)) return;
  const controller = new AbortController();
  followers.set(job.job_id, controller);
  let last = job.state;
  let failures = 0;
  while (!controller.signal.aborted) {
    try {
      for await (const { event, data } of api.events(job.job_id, controller.signal)) {
        failures = 0;
        if (event === "deleted") {
          jobRow(job.job_id)?.remove();
          followers.delete(job.job_id);
          return;
        }
        if (event !== "status") continue;
        const current = JSON.parse(data);
        showJob(current);
        if (current.state !== last) announce(`${current.filename || "job"}: ${current.state}`);
        last = current.state;
        if (TERMINAL.has(current.state)) {
          followers.delete(job.job_id);
          return;
        }
      }
    } catch (error) {
      if (controller.signal.aborted || (error instanceof ApiError && [401, 404].includes(error.status))) break;
      failures += 1;
    }
    if (!api) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** failures, 15000)));
  }
  followers.delete(job.job_id);
}

async function download(job) {
  try {
    const blob = await api.mp3(job);
    const url = URL.createObjectURL(blob);
    const link = element("a", { href: url, download: job.mp3.filename, class: "visually-hidden" }, "download");
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    announce(`${job.mp3.filename} downloaded`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(ui.appError, error);
  }
}

async function cancel(job) {
  try {
    showJob(await api.cancel(job.job_id));
    announce(`${job.filename}: cancelled`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(ui.appError, error);
  }
}

async function remove(job) {
  try {
    followers.get(job.job_id)?.abort();
    followers.delete(job.job_id);
    await api.remove(job.job_id);
    jobRow(job.job_id)?.remove();
    ui.jobsEmpty.hidden = ui.jobs.children.length > 0;
    announce(`${job.filename || "job"} deleted`);
    ui.refresh.focus();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(ui.appError, error);
  }
}

ui.refresh.addEventListener("click", () => loadJobs());

// --- start ---------------------------------------------------------------

const session = storedSession();
if (session) enter(session);
else signOut("");
