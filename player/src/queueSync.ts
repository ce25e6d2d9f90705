// The play queue follows the listener across devices: saved to the server (PUT /api/me/queue, the last
// device to save wins) when it changes and every 15 s while playing, and restored at sign-in on a device
// whose own queue is empty, with the track and the position it had reached (GET /api/me/queue).

import { api, type Track } from "./api";
import { player } from "./playback";
import { getState, update, watch } from "./store";

const DEVICE = `Web player (${navigator.platform || "browser"})`.slice(0, 100);
const SAVE_AFTER_MS = 800;
const SAVE_EVERY_MS = 15_000;

let ready = false; // nothing is saved before the saved queue has been read (it would be overwritten)
let timer: number | undefined;
// The restored queue item to start where the other device was: that item (the object), not any play of the
// same track (a release played from its page after sign-in starts at its top, whatever was restored).
let resumeAt: { item: Track; seconds: number } | null = null;

async function save(): Promise<void> {
  const { queue, current, position, user } = getState();
  if (!ready || !user || queue.length === 0) return;
  const index = Math.max(0, current);
  await api.saveQueue(queue.map((t) => t.id), index, Math.round(position * 1000), DEVICE).catch(() => {});
}

function saveSoon(): void {
  window.clearTimeout(timer);
  timer = window.setTimeout(() => void save(), SAVE_AFTER_MS);
}

/** Read the saved queue once signed in; take it when this device has nothing queued. */
async function restore(): Promise<void> {
  try {
    const saved = await api.savedQueue();
    if (getState().queue.length || !saved.entries.length) return;
    const queue = saved.entries.map((e) => ({ ...e.track, available: e.available })); // covers included
    const current = Math.min(saved.current_index, queue.length - 1);
    const seconds = saved.position_ms / 1000;
    resumeAt = { item: queue[current], seconds };
    update({ queue, current, position: seconds, duration: queue[current].duration_sec ?? 0 });
  } finally {
    ready = true;
  }
}

/** Start following the store: call once. */
export function syncQueue(): void {
  watch((s) => s.user?.id ?? null, (id) => {
    ready = false;
    if (id !== null) void restore();
  });
  watch((s) => s.queue, saveSoon);
  watch((s) => s.current, saveSoon);
  watch((s) => s.playing, saveSoon); // a pause saves where it stopped
  window.setInterval(() => getState().playing && void save(), SAVE_EVERY_MS);
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && void save());
  // The first play of a restored track starts where the other device was.
  player.audio.addEventListener("loadedmetadata", () => {
    const { queue, current } = getState();
    if (resumeAt && queue[current] === resumeAt.item && resumeAt.seconds > 0) player.seek(resumeAt.seconds);
    resumeAt = null;
  });
}
