// The one list of files: each goes uploading (with progress and a way to stop it), then
// queued, converting (with a percent), then ready (with time and size, a player and a
// download through the job's signed link, and one per chapter when the job was split), or failed
// with the reason in words.

import { ApiError } from "./problems.js";
import { startUpload } from "./uploads.js";
import { duration, failureWords, size, stateKind, stateWord, when } from "./words.js";

const TERMINAL = new Set(["notified", "failed", "cancelled", "expired"]);
const CANCELLABLE = new Set(["queued", "converting"]);
const READY = new Set(["converted", "notified"]);
const UPLOADING = new Set(["uploading", "waiting", "paused"]);

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

export class FileList {
  constructor({ list, empty, api, session, announce, showError, failures }) {
    Object.assign(this, { list, empty, api, session, announce, showError });
    this.failures = failures;
    this.items = new Map(); // key -> item; a job's key is its id, an upload's is "upload:n" until it has one
    this.followers = new Map(); // job id -> AbortController of its event stream
    this.uploads = 0;
  }

  // --- items ---------------------------------------------------------------

  item(key, name, { prepend = false } = {}) {
    let item = this.items.get(key);
    if (item) return item;
    const nameNode = element("h3", { class: "name", tabindex: "-1" }, name);
    item = {
      key,
      name,
      state: "queued",
      job: null,
      nameNode,
      badge: element("span", { class: "state" }),
      bar: element("progress", { max: "100", value: "0" }),
      detail: element("p", { class: "detail" }),
      reason: element("div", { class: "reason" }),
      player: element("div", { class: "player" }),
      actions: element("div", { class: "actions" }),
      actionsKey: "",
      parts: element("div", { class: "parts" }),
      partsKey: "",
    };
    item.li = element(
      "li",
      { class: "item job" },
      element("div", { class: "item-head" }, nameNode, item.badge),
      item.bar,
      item.detail,
      item.reason,
      item.player,
      item.actions,
      item.parts,
    );
    this.items.set(key, item);
    if (prepend) this.list.prepend(item.li);
    else this.list.append(item.li);
    this.empty.hidden = true;
    return item;
  }

  rekey(item, jobId) {
    const other = this.items.get(jobId);
    if (other && other !== item) this.drop(other); // the list showed the job before its upload item knew it
    this.items.delete(item.key);
    item.key = jobId;
    this.items.set(jobId, item);
    item.li.dataset.jobId = jobId;
  }

  drop(item) {
    this.followers.get(item.key)?.abort();
    this.followers.delete(item.key);
    item.li.remove();
    this.items.delete(item.key);
    this.empty.hidden = this.items.size > 0;
  }

  clear() {
    for (const item of this.items.values()) item.handle?.pause();
    for (const controller of this.followers.values()) controller.abort();
    this.followers.clear();
    this.items.clear();
    this.list.replaceChildren();
  }

  render(item) {
    const { li, job } = item;
    const name = job?.filename || item.name;
    item.name = name;
    item.nameNode.textContent = name;
    li.dataset.state = item.state;
    item.badge.className = `state state-${stateKind(item.state)}`;
    item.badge.textContent = stateWord(item.state);
    const percent = this.percent(item);
    item.bar.hidden = percent === null;
    if (percent !== null) {
      item.bar.value = percent;
      item.bar.setAttribute("aria-label", `${UPLOADING.has(item.state) ? "Upload" : "Conversion"} of ${name}`);
    }
    item.detail.textContent = this.detailText(item, percent);
    this.renderReason(item);
    this.renderActions(item);
    this.renderParts(item);
    if (!READY.has(item.state) && item.player.childElementCount) item.player.replaceChildren();
  }

  // A job split per chapter: a link for each chapter's MP3. A page of the list gives their
  // number only; the job's own view (fetched once) lists them. Rebuilt only when they change.
  renderParts(item) {
    const mp3 = READY.has(item.state) ? item.job?.mp3 : null;
    if (mp3?.parts?.length) item.partList = mp3.parts;
    const count = mp3?.part_count || 0;
    const parts = count ? item.partList || [] : [];
    const note = mp3 ? item.job?.note || "" : "";
    const key = `${count}|${parts.map((part) => part.download_url).join(",")}|${note}`;
    if (key === item.partsKey) return;
    item.partsKey = key;
    if (count && !parts.length) this.loadParts(item);
    const children = note ? [element("p", { class: "hint" }, note)] : [];
    if (parts.length) {
      const rows = parts.map((part) =>
        element(
          "li",
          {},
          element(
            "a",
            { href: part.download_url, download: part.filename, "aria-label": `Download chapter ${part.number}: ${part.title}` },
            part.title,
          ),
          element("span", { class: "hint" }, ` · ${[duration(part.duration_seconds), size(part.size_bytes)].filter(Boolean).join(" · ")}`),
        ),
      );
      // rebuilt when the links are renewed (hourly): an open list stays open
      const open = Boolean(item.parts.querySelector("details")?.open);
      children.push(element("details", { open }, element("summary", {}, `One MP3 per chapter (${count})`), element("ol", {}, ...rows)));
    }
    item.parts.replaceChildren(...children);
  }

  async loadParts(item) {
    if (item.loadingParts) return;
    item.loadingParts = true;
    try {
      const job = await this.api.job(item.key);
      if (this.items.get(job.job_id) === item) this.show(job);
    } catch {
      // the list still offers the whole MP3; the next refresh tries again
      item.partsKey = "";
    } finally {
      item.loadingParts = false;
    }
  }

  percent(item) {
    if (UPLOADING.has(item.state)) return item.total ? Math.floor((item.sent / item.total) * 100) : 0;
    if (item.state === "converting") return Math.floor(item.job?.progress_percent ?? 0);
    return null;
  }

  detailText(item, percent) {
    const job = item.job;
    switch (item.state) {
      case "uploading":
      case "waiting":
      case "paused": {
        const resumed = item.resumedFrom ? ` · resumed at ${Math.floor((item.resumedFrom / item.total) * 100)} %` : "";
        const what = item.state === "waiting" ? " · the connection dropped, trying again" : "";
        return `${percent} % of ${size(item.total)}${resumed}${what}`;
      }
      case "queued":
        return [job && `Uploaded ${when(job.created_at)}`, "waiting to be converted"].filter(Boolean).join(" · ");
      case "converting":
        return `${percent} % converted`;
      case "converted":
      case "notified":
        return [
          when(job?.updated_at || job?.created_at),
          duration(job?.mp3?.duration_seconds),
          size(job?.mp3?.size_bytes),
          job?.expires_at && `kept until ${when(job.expires_at)}`,
        ]
          .filter(Boolean)
          .join(" · ");
      case "cancelled":
        return job ? `Cancelled ${when(job.updated_at)}` : "";
      case "expired":
        return job ? `Expired ${when(job.expires_at || job.updated_at)}: its files were removed` : "";
      case "stopped":
        return "The upload was stopped and removed.";
      default:
        return job ? when(job.updated_at || job.created_at) : "";
    }
  }

  renderReason(item) {
    if (item.state === "failed") {
      const words = failureWords(this.failures(), item.job?.error);
      item.reason.className = "reason error";
      item.reason.replaceChildren(
        element("p", {}, element("strong", {}, "What happened: "), words.happened),
        element("p", {}, element("strong", {}, "What to try: "), words.tryThis),
      );
    } else if (item.state === "refused") {
      item.reason.className = "reason error";
      item.reason.replaceChildren(element("p", {}, item.error || "The file was not accepted."));
    } else {
      item.reason.className = "reason";
      item.reason.replaceChildren();
    }
  }

  // The buttons a state offers; rebuilt only when they change, so keyboard focus stays put.
  renderActions(item) {
    if (item.confirming) return;
    const name = item.name;
    const mp3 = item.job?.mp3;
    const wanted = [];
    if (UPLOADING.has(item.state)) wanted.push("stop");
    if (READY.has(item.state) && mp3) wanted.push("play", "download");
    if (CANCELLABLE.has(item.state) && item.job) wanted.push("cancel");
    if (item.job) wanted.push("delete");
    if (!item.job && ["refused", "stopped"].includes(item.state)) wanted.push("dismiss");
    const key = `${wanted.join(",")}|${mp3?.download_url || ""}|${item.playing ? 1 : 0}`;
    if (key === item.actionsKey) return;
    const focused = item.actions.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    item.actionsKey = key;
    const buttons = {
      stop: () => this.button("stop", "Stop", `Stop uploading ${name}`, () => this.stopUpload(item), "secondary"),
      play: () =>
        this.button("play", item.playing ? "Hide player" : "Play", `${item.playing ? "Hide player of" : "Play"} ${mp3.filename}`, () =>
          this.togglePlayer(item),
        ),
      download: () =>
        element(
          "a",
          { class: "button", href: mp3.download_url, download: mp3.filename, "aria-label": `Download ${mp3.filename}`, "data-action": "download" },
          "Download",
        ),
      cancel: () => this.button("cancel", "Cancel", `Cancel ${name}`, () => this.cancel(item), "secondary"),
      delete: () => this.button("delete", "Delete", `Delete ${name}`, () => this.confirmDelete(item), "danger"),
      dismiss: () => this.button("dismiss", "Remove from list", `Remove ${name} from the list`, () => this.drop(item), "secondary"),
    };
    item.actions.replaceChildren(...wanted.map((action) => buttons[action]()));
    if (focused) item.actions.querySelector(`[data-action="${focused}"]`)?.focus();
  }

  button(action, text, label, onclick, kind = "") {
    return element("button", { type: "button", class: kind, "aria-label": label, "data-action": action, onclick }, text);
  }

  // --- jobs ----------------------------------------------------------------

  show(job, { prepend = false } = {}) {
    const item = this.item(job.job_id, job.filename || "video", { prepend });
    item.li.dataset.jobId = job.job_id;
    item.job = job;
    item.state = job.state;
    this.render(item);
    return item;
  }

  async load() {
    const page = await this.api.jobs();
    const listed = new Set(page.items.map((job) => job.job_id));
    for (const [key, item] of this.items) {
      // jobs deleted elsewhere go; uploads still under way stay
      if (item.job && !listed.has(key) && !UPLOADING.has(item.state)) this.drop(item);
    }
    for (const job of page.items) {
      const existing = this.items.get(job.job_id);
      if (existing && UPLOADING.has(existing.state)) continue;
      this.show(job);
      this.follow(job);
    }
    this.empty.hidden = this.items.size > 0;
  }

  // Live state: the job's event stream while it is unfinished, reconnecting if it drops.
  async follow(job) {
    if (TERMINAL.has(job.state) || this.followers.has(job.job_id)) return;
    const controller = new AbortController();
    this.followers.set(job.job_id, controller);
    let last = job.state;
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        for await (const { event, data } of this.api.events(job.job_id, controller.signal)) {
          failures = 0;
          const item = this.items.get(job.job_id);
          if (event === "deleted") {
            if (item) this.drop(item);
            return;
          }
          if (event !== "status" || !item) continue;
          const current = JSON.parse(data);
          this.show(current);
          if (current.state !== last) this.announce(`${current.filename || "Your file"}: ${stateWord(current.state)}`);
          last = current.state;
          if (TERMINAL.has(current.state)) {
            this.followers.delete(job.job_id);
            return;
          }
        }
      } catch (error) {
        if (controller.signal.aborted || (error instanceof ApiError && [401, 404].includes(error.status))) break;
        failures += 1;
      }
      if (!this.session.active) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** failures, 15000)));
    }
    this.followers.delete(job.job_id);
  }

  async cancel(item) {
    try {
      this.show(await this.api.cancel(item.key));
      this.announce(`${item.name}: cancelled`);
    } catch (error) {
      this.showError(error);
    }
  }

  // Delete asks first, in the row itself; then the row says it is busy until the server answers.
  confirmDelete(item) {
    item.confirming = true;
    const keep = () => {
      item.confirming = false;
      item.actionsKey = "";
      item.actions.removeAttribute("role");
      item.actions.removeAttribute("aria-labelledby");
      this.renderActions(item);
      item.actions.querySelector('[data-action="delete"]')?.focus();
    };
    const yes = this.button("confirm-delete", "Yes, delete", `Yes, delete ${item.name} and its MP3`, () => this.remove(item, yes), "danger");
    const no = this.button("keep", "Keep it", `Keep ${item.name}`, keep, "secondary");
    item.actions.replaceChildren(
      element("p", { class: "confirm", id: `confirm-${item.key}` }, `Delete ${item.name} and its MP3? This cannot be undone.`),
      yes,
      no,
    );
    item.actions.setAttribute("role", "group");
    item.actions.setAttribute("aria-labelledby", `confirm-${item.key}`);
    yes.focus();
  }

  async remove(item, button) {
    button.disabled = true;
    button.textContent = "Deleting…";
    item.li.setAttribute("aria-busy", "true");
    item.li.classList.add("busy");
    const next = item.li.nextElementSibling || item.li.previousElementSibling;
    try {
      this.followers.get(item.key)?.abort();
      await this.api.remove(item.key);
      this.drop(item);
      this.announce(`${item.name} deleted`);
      (next?.querySelector("button, a.button") || document.querySelector("#refresh"))?.focus();
    } catch (error) {
      item.li.removeAttribute("aria-busy");
      item.li.classList.remove("busy");
      item.confirming = false;
      item.actionsKey = "";
      item.actions.removeAttribute("role");
      item.actions.removeAttribute("aria-labelledby");
      this.renderActions(item);
      this.showError(error);
    }
  }

  async togglePlayer(item) {
    const mp3 = item.job?.mp3;
    if (!mp3) return;
    if (item.playing) {
      item.playing = false;
      item.player.replaceChildren();
      this.renderActions(item);
      return;
    }
    item.playing = true;
    // the signed link: the browser streams it with ranges, nothing passes through the page's memory
    const audio = element("audio", { controls: true, preload: "metadata", src: mp3.download_url, "aria-label": `Player: ${mp3.filename}` });
    item.player.replaceChildren(audio);
    this.renderActions(item);
    audio.play().catch(() => {}); // a browser may want a second click; the controls are there
    this.showCover(item);
  }

  // Beside the player, the MP3's cover (its embedded image), when the server has one for it.
  async showCover(item) {
    const url = await this.api.cover(item.key).catch(() => null);
    if (!url || !item.playing) return;
    const image = element("img", { class: "cover", src: url, alt: `Cover of ${item.job.mp3.filename}` });
    image.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    item.player.prepend(image);
  }

  // --- uploads -------------------------------------------------------------

  upload(file, options, summary) {
    this.uploads += 1;
    const item = this.item(`upload:${this.uploads}`, file.name, { prepend: true });
    Object.assign(item, { state: "uploading", sent: 0, total: file.size, summary });
    this.render(item);
    this.announce(`Uploading ${file.name}`);
    try {
      item.handle = startUpload(this.session, file, options, {
        created: (jobId) => this.rekey(item, jobId),
        resumed: (offset) => {
          item.resumedFrom = offset;
          item.sent = offset;
          this.render(item);
        },
        progress: (sent, total) => {
          Object.assign(item, { sent, total, state: this.session.active ? "uploading" : "paused" });
          this.render(item);
        },
        retrying: () => {
          item.state = this.session.active ? "waiting" : "paused";
          this.render(item);
        },
        done: async (jobId) => {
          if (item.key !== jobId) this.rekey(item, jobId);
          item.state = "queued";
          item.handle = null;
          this.announce(`${file.name} uploaded`);
          try {
            const job = await this.api.job(jobId);
            this.show(job);
            this.follow(job);
          } catch (error) {
            this.render(item);
            this.showError(error);
          }
        },
        failed: (error) => {
          item.state = "refused";
          item.error = error.message;
          item.handle = null;
          this.render(item);
          this.announce(`${file.name}: ${error.message}`);
        },
      });
    } catch (error) {
      item.state = "refused";
      item.error = error.message;
      this.render(item);
    }
  }

  async stopUpload(item) {
    const handle = item.handle;
    item.handle = null;
    item.state = "stopped";
    item.job = null;
    this.render(item);
    this.announce(`${item.name}: upload stopped`);
    await handle?.stop();
    item.actions.querySelector("button")?.focus();
  }

  // The session is waiting for a new sign-in: uploads are paused, not lost.
  pauseUploads(paused) {
    for (const item of this.items.values()) {
      if (item.handle && UPLOADING.has(item.state)) {
        item.state = paused ? "paused" : "uploading";
        this.render(item);
      }
    }
  }

  // Open the job an email linked to: scrolled to, marked and focused.
  async open(jobId) {
    let item = this.items.get(jobId);
    if (!item) {
      try {
        item = this.show(await this.api.job(jobId), { prepend: true });
        this.follow(item.job);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          this.showError(new Error("This job no longer exists, or it belongs to another account."));
          return;
        }
        throw error;
      }
    }
    for (const other of this.list.querySelectorAll(".opened")) other.classList.remove("opened");
    item.li.classList.add("opened");
    item.li.scrollIntoView({ block: "center" });
    item.nameNode.focus();
  }
}
