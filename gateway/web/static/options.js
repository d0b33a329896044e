// "More options": a sound quality preset in words, a part of the video, even loudness, one MP3
// per chapter, and
// custom settings for those who want them. The choices of the custom settings (bitrates,
// sample rates, VBR levels) come from the options' JSON schema (/app/options.json), so they
// match what the server accepts. Only what differs from the defaults is sent.

const PRESETS = {
  standard: {},
  high: { bitrate_kbps: "320" },
  small: { vbr_quality: "5" },
  voice: { bitrate_kbps: "64", channels: "mono" },
};

const $ = (root, selector) => root.querySelector(selector);

function option(value, text) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = text;
  return node;
}

function choices(schema, name) {
  const field = schema.properties?.[name] || {};
  const branch = (field.anyOf || [field]).find((part) => part.enum || part.type === "integer") || field;
  return branch;
}

export function setUpOptions(form, schema) {
  const bitrate = $(form, "#custom-bitrate");
  const rate = $(form, "#custom-rate");
  const vbr = $(form, "#custom-vbr");
  for (const value of choices(schema, "bitrate_kbps").enum || []) {
    bitrate.append(option(String(value), `${value} kbit/s`));
  }
  bitrate.value = "192";
  const levels = choices(schema, "vbr_quality");
  for (let level = levels.minimum ?? 0; level <= (levels.maximum ?? 9); level += 1) {
    const words = level === 0 ? " (best, largest)" : level === (levels.maximum ?? 9) ? " (smallest)" : "";
    vbr.append(option(String(level), `V${level}${words}`));
  }
  for (const value of choices(schema, "sample_rate_hz").enum || []) {
    rate.append(option(String(value), `${(value / 1000).toLocaleString("en")} kHz`));
  }
  const custom = $(form, "#custom-settings");
  const sync = () => {
    custom.hidden = form.elements.preset.value !== "custom";
    const variable = $(form, "#custom-mode").value === "vbr";
    vbr.closest(".field").hidden = !variable;
    bitrate.closest(".field").hidden = variable;
  };
  form.addEventListener("change", sync);
  sync();
}

// "90", "1:30" or "1:02:03" in seconds; null for empty; NaN when unreadable.
export function seconds(text) {
  const value = text.trim();
  if (!value) return null;
  if (!/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(value)) return Number.NaN;
  return value.split(":").reduce((total, part) => total * 60 + Number(part), 0);
}

// The options to send, or throws an Error whose message says what to fix (in words).
export function optionValues(form) {
  const preset = form.elements.preset.value;
  const values = { ...(PRESETS[preset] || {}) };
  if (preset === "custom") {
    if ($(form, "#custom-mode").value === "vbr") values.vbr_quality = $(form, "#custom-vbr").value;
    else if ($(form, "#custom-bitrate").value !== "192") values.bitrate_kbps = $(form, "#custom-bitrate").value;
    if ($(form, "#custom-rate").value) values.sample_rate_hz = $(form, "#custom-rate").value;
    if ($(form, "#custom-channels").value) values.channels = $(form, "#custom-channels").value;
  }
  const start = seconds($(form, "#trim-start").value);
  const end = seconds($(form, "#trim-end").value);
  if (Number.isNaN(start) || Number.isNaN(end)) {
    throw new Error("Write the start and end of the part as minutes:seconds, for example 1:30.");
  }
  if (start !== null && end !== null && end <= start) {
    throw new Error("The part's end must come after its start.");
  }
  if (start) values.start_seconds = String(start);
  if (end !== null) values.end_seconds = String(end);
  if ($(form, "#normalize").checked) values.normalize = "true";
  if ($(form, "#split-chapters").checked) values.split_chapters = "true";
  return values;
}

// A few words on the choices, for the upload's row: "High 320 kbit/s · 1:30 to 2:00".
export function optionSummary(form) {
  const preset = form.elements.preset;
  const label = [...form.querySelectorAll("input[name=preset]")].find((input) => input.checked);
  const parts = [preset.value === "standard" ? "" : label?.dataset.short || ""];
  const start = $(form, "#trim-start").value.trim();
  const end = $(form, "#trim-end").value.trim();
  if (start || end) parts.push(`${start || "0:00"} to ${end || "the end"}`);
  if ($(form, "#normalize").checked) parts.push("even loudness");
  if ($(form, "#split-chapters").checked) parts.push("one MP3 per chapter");
  return parts.filter(Boolean).join(" · ");
}
