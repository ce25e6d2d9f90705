// Playback events that could not be delivered (offline, server busy) are kept here, in localStorage,
// with their real `occurred_at`, and sent when the network returns or the app starts again. The server
// places each event on its own clock from the batch's `sent_at` and accepts it within its session's
// limits (royalties/counting.py: no later than 24 h after the session started, no more seconds than the
// wall clock allows), so a late batch counts exactly like a timely one. Event ids make re-sending safe.

import { api, ApiError, type PlaybackEvent } from "./api";
import type { EventSink } from "./reporting";

const KEY = "cadenza.outbox";
const MAX_BATCH = 500; // the server's batch limit (CADENZA_ROYALTIES__MAX_BATCH default)

export function queued(): PlaybackEvent[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(parsed) ? (parsed as PlaybackEvent[]) : [];
  } catch {
    return [];
  }
}

function save(events: PlaybackEvent[]): void {
  if (events.length) localStorage.setItem(KEY, JSON.stringify(events));
  else localStorage.removeItem(KEY);
}

/** Keep `events` until they are delivered (an id already queued is kept once). */
export function enqueue(events: PlaybackEvent[]): void {
  const all = queued();
  const ids = new Set(all.map((e) => e.id));
  save(all.concat(events.filter((e) => !ids.has(e.id))));
}

/** Whether a failed send should be kept for later: no network, or the server asked for a retry. A
 * 4xx is an answer (the batch itself is wrong): retrying it would never succeed. */
function retriable(e: unknown): boolean {
  return !(e instanceof ApiError) || e.status === 503 || e.status === 502 || e.status === 504;
}

let draining: Promise<void> | null = null;

/** Send everything queued, oldest first; what fails stays queued. */
export function drain(send: (events: PlaybackEvent[]) => Promise<unknown> = api.sendEvents): Promise<void> {
  draining ??= (async () => {
    try {
      for (;;) {
        const batch = queued().slice(0, MAX_BATCH);
        if (!batch.length) return;
        try {
          await send(batch);
        } catch (e) {
          if (retriable(e)) return;
        }
        const sent = new Set(batch.map((e) => e.id));
        save(queued().filter((e) => !sent.has(e.id)));
      }
    } finally {
      draining = null;
    }
  })();
  return draining;
}

/** The reporting's sink: the API when it answers, the outbox when it cannot be reached. */
export const eventSink: EventSink = {
  async send(events) {
    try {
      await api.sendEvents(events);
    } catch (e) {
      if (!retriable(e)) throw e;
      enqueue(events); // delivered to durable storage: the report need not hold them any longer
    }
  },
  beacon(events) {
    if (!navigator.onLine) {
      enqueue(events); // a beacon sent offline is lost without an error
      return true;
    }
    return api.beaconEvents(events);
  },
};
