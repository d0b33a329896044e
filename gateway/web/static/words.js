// What the page calls things: states, sizes, durations and times in words for people.

// The API's states (and the page's own upload states) as the page names them.
const STATE_WORDS = {
  uploading: "Uploading",
  waiting: "Reconnecting",
  paused: "Paused: sign in",
  stopped: "Stopped",
  refused: "Not accepted",
  queued: "Queued",
  converting: "Converting",
  converted: "Ready",
  notified: "Ready",
  failed: "Failed",
  cancelled: "Cancelled",
  expired: "Expired",
};

// The class its badge is coloured by: one colour per kind of state, not per word.
const STATE_KIND = {
  uploading: "busy",
  waiting: "busy",
  paused: "busy",
  queued: "busy",
  converting: "busy",
  converted: "ready",
  notified: "ready",
  failed: "failed",
  refused: "failed",
  stopped: "ended",
  cancelled: "ended",
  expired: "ended",
};

export function stateWord(state) {
  return STATE_WORDS[state] || state.charAt(0).toUpperCase() + state.slice(1);
}

export function stateKind(state) {
  return STATE_KIND[state] || "busy";
}

export function size(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1000 * 1000) return `${Math.max(1, Math.round(bytes / 1000))} kB`;
  if (bytes < 1000 * 1000 * 1000) return `${(bytes / 1000 / 1000).toFixed(1)} MB`;
  return `${(bytes / 1000 / 1000 / 1000).toFixed(2)} GB`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const total = Math.round(seconds);
  const [hours, minutes, secs] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (value) => String(value).padStart(2, "0");
  return hours ? `${hours}:${two(minutes)}:${two(secs)}` : `${minutes}:${two(secs)}`;
}

// "today 15:04", "yesterday 09:12", "3 May 15:04", "3 May 2025 15:04"
export function when(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const now = new Date();
  const time = moment.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const day = new Date(moment.getFullYear(), moment.getMonth(), moment.getDate());
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const days = Math.round((today - day) / 86_400_000);
  if (days === 0) return `today ${time}`;
  if (days === 1) return `yesterday ${time}`;
  const options = { day: "numeric", month: "short" };
  if (moment.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return `${moment.toLocaleDateString(undefined, options)} ${time}`;
}

// Why a job failed, in words (from /app/failures.json, the emails' words).
export function failureWords(failures, error) {
  const words = error && failures[error.reason];
  if (words) return { happened: words.what_happened, tryThis: words.what_to_try };
  return { happened: "The conversion failed.", tryThis: "Try again in a little while." };
}
