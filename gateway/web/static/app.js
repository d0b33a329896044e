// The vidmp3 page: sign in (the session survives reloads and tabs), drop videos, follow each
// file in one list until its MP3 plays and downloads. Plain DOM and ES modules, no build step.

import { Api } from "./api.js";
import { KeysSection } from "./keys.js";
import { FileList } from "./list.js";
import { optionSummary, optionValues, setUpOptions } from "./options.js";
import { ApiError } from "./problems.js";
import { Session } from "./session.js";

const $ = (selector) => document.querySelector(selector);
const ui = {
  loading: $("#loading"),
  signInScreen: $("#sign-in-screen"),
  signInWhy: $("#sign-in-why"),
  signInForm: $("#sign-in-form"),
  signInError: $("#sign-in-error"),
  signInButton: $("#sign-in-button"),
  email: $("#email"),
  password: $("#password"),
  appScreen: $("#app-screen"),
  account: $("#account"),
  who: $("#who"),
  signOut: $("#sign-out"),
  uploadForm: $("#upload-form"),
  files: $("#files"),
  dropzone: $("#dropzone"),
  jobs: $("#jobs"),
  jobsEmpty: $("#jobs-empty"),
  refresh: $("#refresh"),
  appError: $("#app-error"),
  announcer: $("#announcer"),
};

const JOB_PATH = /^\/jobs\/([0-9a-f-]{36})\/?$/i;
const session = new Session();
const api = new Api(session);
let failures = {};
let entered = false;
let wanted = JOB_PATH.exec(location.pathname)?.[1] || null; // the job an email's link opened
const pending = []; // files dropped while the session waits for a sign-in: uploaded after it

function announce(text) {
  ui.announcer.textContent = text;
}

function showError(error) {
  if (!error) {
    ui.appError.hidden = true;
    return;
  }
  ui.appError.textContent = error.message;
  ui.appError.hidden = false;
}

const files = new FileList({
  list: ui.jobs,
  empty: ui.jobsEmpty,
  api,
  session,
  announce,
  showError,
  failures: () => failures,
});

const keys = new KeysSection({ api, announce });

// --- screens ---------------------------------------------------------------

function showSignIn(reason, { keep = false } = {}) {
  ui.loading.hidden = true;
  ui.appScreen.hidden = true;
  ui.account.hidden = true;
  ui.signInScreen.hidden = false;
  ui.signInWhy.textContent = reason || (wanted ? "Sign in to see this job." : "Sign in to turn your videos into MP3s.");
  ui.signInError.hidden = true;
  if (!keep) {
    files.clear();
    keys.clear();
    entered = false;
  }
  ui.email.focus();
}

async function enter() {
  ui.loading.hidden = true;
  ui.who.textContent = session.email;
  ui.account.hidden = false;
  ui.signInScreen.hidden = true;
  ui.appScreen.hidden = false;
  files.pauseUploads(false);
  if (entered) {
    // back from signing in again: the list and its uploads are as they were
    startUploads(pending.splice(0));
    return;
  }
  entered = true;
  showError(null);
  try {
    await Promise.all([loadOptions(), loadFailures(), files.load()]);
  } catch (error) {
    showError(error);
  }
  if (wanted) {
    const jobId = wanted;
    wanted = null;
    await files.open(jobId).catch(showError);
  } else {
    $("#upload-title").setAttribute("tabindex", "-1");
    $("#upload-title").focus();
  }
}

session.on("signedIn", () => enter());
session.on("needed", (reason) => {
  files.pauseUploads(true);
  showSignIn(reason, { keep: true });
});
session.on("signedOut", (reason) => showSignIn(reason));

// --- sign in and out -------------------------------------------------------

ui.signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.signInError.hidden = true;
  ui.signInButton.disabled = true;
  try {
    await session.signIn(ui.email.value.trim(), ui.password.value);
    ui.password.value = "";
  } catch (error) {
    const message = error instanceof ApiError && error.status === 401 ? "Wrong email or password." : error.message;
    ui.signInError.textContent = `Sign-in failed: ${message}`;
    ui.signInError.hidden = false;
    ui.password.focus();
  } finally {
    ui.signInButton.disabled = false;
  }
});

ui.signOut.addEventListener("click", () => session.signOut());

// --- options ---------------------------------------------------------------

async function loadOptions() {
  if (ui.uploadForm.dataset.loaded) return;
  const response = await fetch("/app/options.json");
  setUpOptions(ui.uploadForm, await response.json());
  ui.uploadForm.dataset.loaded = "yes";
}

async function loadFailures() {
  const response = await fetch("/app/failures.json");
  failures = await response.json();
}

// --- uploads ---------------------------------------------------------------

function startUploads(chosen) {
  if (!chosen.length) return;
  if (!session.active) {
    if (!entered) return; // nobody signed in on this page yet: there is no list to put them in
    pending.push(...chosen);
    const count = pending.length === 1 ? "1 file is" : `${pending.length} files are`;
    ui.signInWhy.textContent = `Please sign in again: ${count} waiting to upload.`;
    announce(ui.signInWhy.textContent);
    return;
  }
  let options;
  try {
    options = optionValues(ui.uploadForm);
  } catch (error) {
    showError(error);
    $("#more-options").open = true;
    return;
  }
  showError(null);
  const summary = optionSummary(ui.uploadForm);
  for (const file of chosen) files.upload(file, options, summary);
}

ui.files.addEventListener("change", () => {
  startUploads([...ui.files.files]);
  ui.files.value = "";
});
// a file dropped anywhere on the page is taken, never opened by the browser in place of the page
for (const name of ["dragenter", "dragover"]) {
  window.addEventListener(name, (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    ui.dropzone.classList.add("dragging");
  });
}
window.addEventListener("dragleave", (event) => {
  if (!event.relatedTarget) ui.dropzone.classList.remove("dragging");
});
window.addEventListener("drop", (event) => {
  if (!event.dataTransfer?.files.length) return;
  event.preventDefault();
  ui.dropzone.classList.remove("dragging");
  startUploads([...event.dataTransfer.files]);
});

ui.refresh.addEventListener("click", async () => {
  ui.refresh.disabled = true;
  try {
    await files.load();
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    ui.refresh.disabled = false;
  }
});

// --- start -----------------------------------------------------------------

if (!(await session.restore())) showSignIn("");
