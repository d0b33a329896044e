// The options form, built from the conversion options' JSON schema (/app/options.json):
// a choice is a select, yes/no a checkbox, a number a number field. Only values that differ
// from the server's defaults are sent.

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// The schema of a field, without the "or null" of an optional one.
function bare(schema) {
  if (!schema.anyOf) return schema;
  const kept = schema.anyOf.filter((part) => part.type !== "null");
  return kept.length === 1 ? { ...schema, ...kept[0] } : schema;
}

const ACRONYMS = new Set(["vbr", "cbr", "mp3", "id3"]);
const UNITS = { kbps: "kbit/s", hz: "Hz", seconds: "s", ms: "ms", db: "dB", lufs: "LUFS", percent: "%" };

// "bitrate_kbps" -> "Bitrate (kbit/s)"
function labelOf(name) {
  const words = name.split("_");
  const unit = UNITS[words[words.length - 1]];
  if (unit) words.pop();
  const text = words.map((word) => (ACRONYMS.has(word) ? word.toUpperCase() : word)).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1) + (unit ? ` (${unit})` : "");
}

// A description's `names` as <code>, the rest as text (never as HTML).
function prose(text) {
  return text.split("`").map((part, index) => (index % 2 ? element("code", {}, part) : part));
}

function control(name, schema) {
  const id = `option-${name}`;
  const title = labelOf(name);
  const hintId = `${id}-hint`;
  const hint = schema.description ? element("span", { class: "field-hint", id: hintId }, ...prose(schema.description)) : null;
  let input;
  if (schema.enum) {
    input = element("select", { id, name });
    if (schema.default === null || schema.default === undefined) {
      input.append(element("option", { value: "" }, "default"));
    }
    for (const choice of schema.enum) {
      const option = element("option", { value: String(choice) }, String(choice));
      if (choice === schema.default) option.selected = true;
      input.append(option);
    }
  } else if (schema.type === "boolean") {
    input = element("input", { id, name, type: "checkbox" });
    input.checked = schema.default === true;
    input.dataset.default = String(schema.default === true);
    const field = element("div", { class: "field check" }, input, element("label", { for: id }, title));
    if (hint) {
      input.setAttribute("aria-describedby", hintId);
      return element("div", {}, field, hint);
    }
    return field;
  } else if (schema.type === "integer" || schema.type === "number") {
    input = element("input", { id, name, type: "number", step: schema.type === "integer" ? "1" : "any", inputmode: "decimal" });
    for (const [key, attribute] of [["minimum", "min"], ["exclusiveMinimum", "min"], ["maximum", "max"], ["exclusiveMaximum", "max"]]) {
      if (schema[key] !== undefined) input.setAttribute(attribute, String(schema[key]));
    }
    if (schema.default !== undefined && schema.default !== null) input.value = String(schema.default);
  } else {
    input = element("input", { id, name, type: "text" });
    if (schema.default) input.value = String(schema.default);
  }
  input.dataset.default = schema.default === undefined || schema.default === null ? "" : String(schema.default);
  if (hint) input.setAttribute("aria-describedby", hintId);
  return element("div", { class: "field" }, element("label", { for: id }, title), input, ...(hint ? [hint] : []));
}

export function renderOptions(fieldset, schema) {
  for (const [name, property] of Object.entries(schema.properties || {})) {
    fieldset.append(control(name, bare(property)));
  }
}

// The options to send, as text (the way tus metadata carries them).
export function optionValues(fieldset) {
  const values = {};
  for (const input of fieldset.querySelectorAll("input, select")) {
    if (input.type === "checkbox") {
      const checked = String(input.checked);
      if (checked !== (input.dataset.default || "false")) values[input.name] = checked;
    } else if (input.value !== "" && input.value !== input.dataset.default) {
      values[input.name] = input.value;
    }
  }
  return values;
}
