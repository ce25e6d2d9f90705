// Click-to-first-audio. A play asks for its stream grant with `inline=start`: the grant then carries the
// signed master playlist, the lightest level's playlist and its init section (the server's
// delivery/start.py), and the first segment is the only request left before audio (`startHints` hands
// them to the engine, engine/mse.ts).
//
// When the pointer rests on a track's Play button (or the keyboard focuses it), the grant is asked for
// at once and then the first segment, and the click that usually follows is given both, the promises
// themselves: it waits for what is under way and never fetches the same bytes a second time. The click
// also cancels a prefetch armed by its own pointer or focus: before it did, the focus that a click gives
// its button started a second grant and a second master/level/init/segment after the click, sharing the
// link with the play (with the engine starting on its last measured level, a hover made the click slower
// than a tap on emulated 4G, 628 vs 446 ms; bench/player.py).
//
// The cost: a grant opens a playback session on the server, so a hover that is not followed by a click
// leaves a session with no listening in the statistics (never a stream: counting needs 30 s heard).
// The dwell keeps a pointer passing over a list from opening one per row.

import { api, ApiError, type StreamGrant } from "./api";
import type { Fetched, StartHints } from "./engine/mse";
import { parseMedia } from "./engine/playlist";
import { getState } from "./store";

const DWELL_MS = 120;
const FRESH_MS = 20_000; // well inside the grant's start token (60 s by default)

let early: { trackId: number; at: number; grant: Promise<StreamGrant> } | null = null;
let timer: ReturnType<typeof setTimeout> | undefined; // a prefetch waiting for the dwell (or for focus)
let first: { session: string; url: string; fetched: Promise<Fetched> } | null = null;

/** The grant asked for ahead of the click on `trackId`, once, if it is still fresh. A prefetch the
 *  network failed is asked for again; the server's refusal (451, 404) stands. */
export function takePrefetched(trackId: number, now = Date.now()): Promise<StreamGrant> | null {
  clearTimeout(timer); // the click came: a prefetch armed by its own pointer or focus would be a second grant
  if (!early || early.trackId !== trackId || now - early.at > FRESH_MS) return null;
  const grant = early.grant;
  early = null;
  return grant.catch((e) => {
    if (e instanceof ApiError) throw e;
    return api.stream(trackId, true);
  });
}

/** What the engine starts `grant`'s play from: its start pieces, and the first segment if a hover
 *  asked for it (undefined for a grant without them: an offline one, an older server). */
export function startHints(grant: StreamGrant): StartHints | undefined {
  const s = grant.start;
  if (!s) return undefined;
  const bytes = Uint8Array.from(atob(s.init), (c) => c.charCodeAt(0));
  const hinted = first?.session === grant.session_id ? first : null;
  if (hinted) first = null;
  return {
    master: s.master,
    levelUrl: s.level_url,
    level: s.level,
    init: bytes.buffer,
    first: hinted ? { url: hinted.url, fetched: hinted.fetched } : undefined,
  };
}

/** The URL of the first segment of the level a grant's start pieces name, as the engine resolves it. */
export function firstSegmentUrl(grant: StreamGrant, base = location.href): string | null {
  const s = grant.start;
  if (!s) return null;
  try {
    return parseMedia(s.level, new URL(s.level_url, base).toString()).segments[0].url;
  } catch {
    return null;
  }
}

function prefetch(trackId: number): void {
  if (!navigator.onLine || (early?.trackId === trackId && Date.now() - early.at < FRESH_MS)) return;
  const grant = api.stream(trackId, true);
  grant.then(fetchFirst).catch(() => {}); // the click asks again, or shows the error
  early = { trackId, at: Date.now(), grant };
}

/** Ask for the first segment now; the click's play takes the promise (`startHints`). */
function fetchFirst(grant: StreamGrant): void {
  const url = getState().qualityPin === "auto" ? firstSegmentUrl(grant) : null; // pinned: starts elsewhere
  if (!url) return;
  const t0 = performance.now();
  const fetched = fetch(url).then(async (resp) => {
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const bytes = await resp.arrayBuffer();
    return { bytes, ms: performance.now() - t0 };
  });
  fetched.catch(() => {}); // the engine fetches it itself
  first = { session: grant.session_id, url, fetched };
}

/** Watch the track lists' Play buttons (`[data-track-id] .track-title`) for a resting pointer or focus. */
export function startPrefetching(): void {
  const arm = (e: Event) => {
    const target = e.target instanceof Element ? e.target : null;
    const row = target?.closest(".track-title") ? target.closest("[data-track-id]") : null;
    clearTimeout(timer);
    const id = Number(row?.getAttribute("data-track-id"));
    if (id > 0) timer = setTimeout(() => prefetch(id), e.type === "focusin" ? 0 : DWELL_MS);
  };
  document.addEventListener("pointerover", arm);
  document.addEventListener("focusin", arm);
  document.addEventListener("pointerout", () => clearTimeout(timer));
}
