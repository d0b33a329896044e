// The "API keys" section: create a key (shown once, with a copy button), list your keys,
// revoke one after asking. Loaded when the section is first opened.

import { element } from "./list.js";

const $ = (selector) => document.querySelector(selector);

function day(iso) {
  return iso ? new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) : "";
}

function mayWords(scopes) {
  const read = scopes.includes("jobs:read");
  const write = scopes.includes("jobs:write");
  if (read && write) return "Can see, convert and delete files";
  return read ? "Can see files and download MP3s" : "Can convert and delete files, not see them";
}

export class KeysSection {
  constructor({ api, announce }) {
    Object.assign(this, { api, announce });
    this.section = $("#keys-section");
    this.form = $("#key-form");
    this.list = $("#keys");
    this.empty = $("#keys-empty");
    this.error = $("#keys-error");
    this.created = $("#new-key");
    this.value = $("#new-key-value");
    this.copied = $("#new-key-copied");
    this.loaded = false;
    this.section.addEventListener("toggle", () => {
      if (this.section.open && !this.loaded) this.load();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    $("#new-key-copy").addEventListener("click", () => this.copy());
    $("#new-key-done").addEventListener("click", () => this.forgetKey());
  }

  showError(error) {
    this.error.hidden = !error;
    this.error.textContent = error ? error.message : "";
  }

  // Signed out: nothing of the last person's keys stays on the page.
  clear() {
    this.forgetKey();
    this.list.replaceChildren();
    this.loaded = false;
    this.section.open = false;
  }

  async load() {
    try {
      const keys = await this.api.keys();
      this.loaded = true;
      this.render(keys);
      this.showError(null);
    } catch (error) {
      this.showError(error);
    }
  }

  render(keys) {
    this.empty.hidden = keys.length > 0;
    this.list.replaceChildren(...keys.map((key) => this.row(key)));
  }

  row(key) {
    const expires = key.expires_at ? `stops working ${day(key.expires_at)}` : "works until revoked";
    const used = key.last_used_at ? `last used ${day(key.last_used_at)}` : "never used";
    const actions = element("div", { class: "actions" });
    const li = element(
      "li",
      { class: "item key", "data-key": key.id },
      element("h3", { class: "name" }, key.name),
      element("p", { class: "facts" }, `${mayWords(key.scopes)}. Starts with ${key.prefix}…, made ${day(key.created_at)}, ${expires}, ${used}.`),
      actions,
    );
    const revoke = () => element("button", { type: "button", class: "danger", "data-action": "revoke", "aria-label": `Revoke ${key.name}`, onclick: () => ask() }, "Revoke");
    const ask = () => {
      const question = element("p", { class: "confirm", id: `revoke-${key.id}` }, `Revoke ${key.name}? Programs using it stop working within seconds.`);
      const yes = element("button", { type: "button", class: "danger", "data-action": "confirm-revoke", onclick: () => this.revoke(key, li, yes, keep) }, "Yes, revoke");
      const no = element("button", { type: "button", class: "secondary", "data-action": "keep", onclick: () => keep() }, "Keep it");
      actions.replaceChildren(question, yes, no);
      actions.setAttribute("role", "group");
      actions.setAttribute("aria-labelledby", question.id);
      yes.focus();
    };
    const keep = () => {
      actions.removeAttribute("role");
      actions.removeAttribute("aria-labelledby");
      actions.replaceChildren(revoke());
      actions.querySelector("button").focus();
    };
    actions.append(revoke());
    return li;
  }

  async create() {
    const scopes = ["#key-read", "#key-write"].map((id) => $(id)).filter((box) => box.checked).map((box) => box.value);
    if (!scopes.length) {
      this.showError(new Error("Choose what the key may do: see files, convert them, or both."));
      return;
    }
    const body = { name: $("#key-name").value.trim(), scopes };
    const days = $("#key-expiry").value;
    if (days) body.expires_in_days = Number(days);
    const button = $("#key-create");
    button.disabled = true;
    try {
      const created = await this.api.createKey(body);
      this.showError(null);
      this.value.value = created.key;
      this.copied.textContent = "";
      this.created.hidden = false;
      this.form.reset();
      $("#key-expiry").value = "90";
      this.value.focus();
      this.value.select();
      this.announce(`Key ${created.name} created. Copy it now: it is shown only this once.`);
      await this.load();
    } catch (error) {
      this.showError(error);
    } finally {
      button.disabled = false;
    }
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.value.value);
      this.copied.textContent = "Copied.";
    } catch {
      this.value.focus();
      this.value.select();
      this.copied.textContent = "Copying was not allowed: the key is selected, press Ctrl+C (or ⌘C) to copy it.";
    }
  }

  forgetKey() {
    this.value.value = "";
    this.copied.textContent = "";
    this.created.hidden = true;
  }

  async revoke(key, li, button, keep) {
    button.disabled = true;
    button.textContent = "Revoking…";
    li.setAttribute("aria-busy", "true");
    try {
      await this.api.revokeKey(key.id);
      li.remove();
      this.empty.hidden = this.list.children.length > 0;
      this.announce(`${key.name} revoked`);
      $("#key-create").focus();
    } catch (error) {
      li.removeAttribute("aria-busy");
      keep();
      this.showError(error);
    }
  }
}
