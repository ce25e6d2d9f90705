// Click-to-first-audio: the first of the round trips a play waits for is the stream grant
// (/api/tracks/{id}/stream); the master playlist, the level playlist, the init section and the first
// segment can only follow it. When the pointer rests on a track's Play button (or the keyboard focuses
// it), the grant is asked for at once, and the click that usually follows uses it; then the master,
// the lightest level's playlist, its init section and first segment are fetched into the browser's
// HTTP cache (segments are immutable, manifests private for a few seconds), where the playback engine finds them.
//
// The cost: a grant opens a playback session on the server, so a hover that is not followed by a click
// leaves a session with no listening in the statistics (never a stream: counting needs 30 s heard).
// The dwell keeps a pointer passing over a list from opening one per row.

import { api, type StreamGrant } from "./api";
import { lightestVariant, playlistUris } from "./hlstext";

const DWELL_MS = 120;
const FRESH_MS = 20_000; // well inside the grant's start token (60 s by default)

let early: { trackId: number; at: number; grant: Promise<StreamGrant> } | null = null;

/** The grant asked for ahead of the click on `trackId`, once, if it is still fresh. */
export function takePrefetched(trackId: number, now = Date.now()): Promise<StreamGrant> | null {
  if (!early || early.trackId !== trackId || now - early.at > FRESH_MS) return null;
  const grant = early.grant;
  early = null;
  return grant;
}

function prefetch(trackId: number): void {
  if (!navigator.onLine || (early?.trackId === trackId && Date.now() - early.at < FRESH_MS)) return;
  const grant = api.stream(trackId);
  grant.then(warm).catch(() => {}); // the click asks again, or shows the error
  early = { trackId, at: Date.now(), grant };
}

async function text(url: string): Promise<string> {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  return resp.text();
}

/** Fetch what the playback engine asks for first, in the order it will: the answers wait in the HTTP cache. */
async function warm(grant: StreamGrant): Promise<void> {
  const masterUrl = new URL(grant.hls_url, location.href).href;
  const variant = lightestVariant(await text(masterUrl));
  if (!variant) return;
  const levelUrl = new URL(variant, masterUrl).href;
  const first = playlistUris(await text(levelUrl)).slice(0, 2); // the init section and segment 0
  await Promise.all(first.map((u) => fetch(new URL(u, levelUrl)).then((r) => r.arrayBuffer())));
}

/** Watch the track lists' Play buttons (`[data-track-id] .track-title`) for a resting pointer or focus. */
export function startPrefetching(): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
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
