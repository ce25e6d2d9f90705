// Downloads for offline listening: a track, release or playlist is stored at one chosen quality in
// Cache Storage (its HLS manifests and segments, waveform peaks and artwork), under token-free keys
// (mediakey.ts) that the service worker answers from. The book of what is downloaded (which item holds
// which tracks, the bytes each took, the stream grant each plays with) lives in localStorage.
//
// Offline, a track has no new stream grant: it plays with the grant kept at download time, whose
// playback session the server accepts events for up to 24 h after it opened (royalties/counting.py).
// Once such a session has been used, or is getting old, the next time the network is there a fresh
// grant (a new session) replaces it, so every offline play is reported against an unused session.

import { api, ApiError, type StreamGrant, type Track } from "./api";
import { MEDIA_CACHE, mediaKey } from "./mediakey";
import { takePrefetched } from "./prefetch";
import { playlistUris, singleVariant } from "./hlstext";

export { playlistUris, singleVariant }; // the download's view of them, tested with it

export const QUALITIES = ["aac_128", "aac_256", "aac_320"] as const;
export type Quality = (typeof QUALITIES)[number];
export type Kind = "track" | "release" | "playlist";

export interface DownloadedTrack {
  track: Track;
  quality: Quality;
  grant: StreamGrant;
  grantedAt: number; // ms since the epoch
  sessionUsed: boolean;
  keys: string[]; // Cache Storage keys this track's files are stored under
  bytes: number;
}

export interface DownloadItem {
  key: string; // "playlist:3"
  kind: Kind;
  id: number;
  title: string;
  quality: Quality;
  trackIds: number[];
}

interface Book {
  items: Record<string, DownloadItem>;
  tracks: Record<string, DownloadedTrack>;
}

const BOOK = "cadenza.downloads";
const FRESH_MS = 12 * 3600_000; // a kept grant older than this is renewed when online (sessions last 24 h)

let book: Book = load();
const listeners = new Set<() => void>();
const busy = new Set<string>();

function load(): Book {
  try {
    const b = JSON.parse(localStorage.getItem(BOOK) ?? "null");
    if (b && typeof b === "object" && b.items && b.tracks) return b as Book;
  } catch {
    /* a corrupt book is an empty one */
  }
  return { items: {}, tracks: {} };
}

function save(): void {
  localStorage.setItem(BOOK, JSON.stringify(book));
  for (const l of listeners) l();
}

/** Call `listener` whenever downloads change; returns the unsubscribe. */
export function onDownloadsChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const itemKey = (kind: Kind, id: number) => `${kind}:${id}`;
export const items = (): DownloadItem[] => Object.values(book.items);
export const item = (kind: Kind, id: number): DownloadItem | undefined => book.items[itemKey(kind, id)];
export const downloadedTrack = (id: number): DownloadedTrack | undefined => book.tracks[String(id)];
export const isDownloading = (kind: Kind, id: number) => busy.has(itemKey(kind, id));
export const tracksOf = (it: DownloadItem): Track[] =>
  it.trackIds.map((id) => book.tracks[String(id)]?.track).filter((t): t is Track => !!t);

/** Bytes stored for an item (its tracks' files). */
export function itemBytes(it: DownloadItem): number {
  return it.trackIds.reduce((sum, id) => sum + (book.tracks[String(id)]?.bytes ?? 0), 0);
}

/** Bytes stored by all downloads, each track once. */
export const downloadedBytes = (): number => Object.values(book.tracks).reduce((s, t) => s + t.bytes, 0);

async function fetchOk(url: string): Promise<Response> {
  const resp = await fetch(url);
  if (!resp.ok) throw new ApiError(resp.status, "download", `${url.split("?")[0]}: HTTP ${resp.status}`);
  return resp;
}

/** Store one track at `quality`: returns what the book keeps about it. */
async function storeTrack(track: Track, quality: Quality, cache: Cache): Promise<DownloadedTrack> {
  const grant = await api.stream(track.id);
  const keys: string[] = [];
  let bytes = 0;
  const put = async (url: string, body: Blob, type: string) => {
    const key = mediaKey(url, location.href) as string;
    await cache.put(key, new Response(body, { headers: { "content-type": type } }));
    keys.push(key);
    bytes += body.size;
  };
  const master = await (await fetchOk(grant.hls_url)).text();
  const chosen = singleVariant(master, quality);
  if (!chosen) throw new Error(`no ${quality} stream for “${track.title}”`);
  const m3u8 = "application/vnd.apple.mpegurl";
  await put(grant.hls_url, new Blob([chosen.master]), m3u8);
  const levelUrl = new URL(chosen.uri, new URL(grant.hls_url, location.href)).href;
  const level = await (await fetchOk(levelUrl)).text();
  await put(levelUrl, new Blob([level]), m3u8);
  for (const uri of playlistUris(level)) {
    const url = new URL(uri, levelUrl).href;
    const resp = await fetchOk(url);
    await put(url, await resp.blob(), resp.headers.get("content-type") ?? "video/mp4");
  }
  const extras = [grant.waveform_url, ...Object.values(track.artwork?.urls ?? {})].filter((u): u is string => !!u);
  for (const url of extras) {
    const resp = await fetch(url).catch(() => null); // peaks and covers are nice to have offline, not required
    if (resp?.ok) await put(url, await resp.blob(), resp.headers.get("content-type") ?? "application/octet-stream");
  }
  return { track, quality, grant, grantedAt: Date.now(), sessionUsed: false, keys, bytes };
}

/** Download an item's tracks at `quality` (tracks already stored at that quality are kept). */
export async function download(kind: Kind, id: number, title: string, tracks: Track[], quality: Quality): Promise<void> {
  const key = itemKey(kind, id);
  if (busy.has(key)) return;
  busy.add(key);
  save();
  try {
    const cache = await caches.open(MEDIA_CACHE);
    await api.me().catch(() => {}); // the service worker keeps this answer: an offline reload stays signed in
    for (const t of tracks) {
      const have = book.tracks[String(t.id)];
      if (have?.quality === quality) continue;
      if (have) await dropFiles(have, cache);
      book.tracks[String(t.id)] = await storeTrack(t, quality, cache);
    }
    book.items[key] = { key, kind, id, title, quality, trackIds: tracks.map((t) => t.id) };
  } finally {
    busy.delete(key);
    save();
  }
}

async function dropFiles(t: DownloadedTrack, cache: Cache): Promise<void> {
  await Promise.all(t.keys.map((k) => cache.delete(k)));
}

/** Remove an item; a track another item still holds stays stored. */
export async function remove(kind: Kind, id: number): Promise<void> {
  const key = itemKey(kind, id);
  const gone = book.items[key];
  if (!gone) return;
  delete book.items[key];
  const held = new Set(Object.values(book.items).flatMap((it) => it.trackIds));
  const cache = await caches.open(MEDIA_CACHE);
  for (const tid of gone.trackIds) {
    const t = book.tracks[String(tid)];
    if (t && !held.has(tid)) {
      await dropFiles(t, cache);
      delete book.tracks[String(tid)];
    }
  }
  save();
}

/** The stream grant to play a track with: the server's (asked for on hover when it could be, see
 * prefetch.ts), or offline the one kept with the download. A downloaded track plays from its stored
 * copy, whose master names the one level kept: its grant goes without the start pieces (the lightest
 * level's, which may not be the one stored). */
export async function streamGrant(trackId: number): Promise<StreamGrant> {
  try {
    const stored = book.tracks[String(trackId)] !== undefined;
    const grant = await (takePrefetched(trackId) ?? api.stream(trackId, !stored));
    return stored ? { ...grant, start: null } : grant;
  } catch (e) {
    const kept = book.tracks[String(trackId)];
    if (e instanceof ApiError || !kept) {
      if (!(e instanceof ApiError) && !navigator.onLine) throw new Error("you are offline and it is not downloaded");
      throw e;
    }
    kept.sessionUsed = true;
    save();
    return kept.grant;
  }
}

/** With the network back: a fresh grant (and session) for every kept grant that was used or is old. */
export async function renewGrants(now = Date.now()): Promise<void> {
  for (const t of Object.values(book.tracks)) {
    if (!t.sessionUsed && now - t.grantedAt < FRESH_MS) continue;
    try {
      t.grant = await api.stream(t.track.id);
      t.grantedAt = now;
      t.sessionUsed = false;
    } catch {
      return; // offline again, or no longer licensed here: the next attempt decides
    }
  }
  save();
}
