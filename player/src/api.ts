// The one module that speaks to Cadenza's REST API (src/cadenza/web/api/*.py). Nothing here decides a
// rule: the server says what may be seen and played, and at which quality; this module only carries it.

import type { Loudness } from "./loudness";

export interface Artwork {
  id: number;
  width: number;
  height: number;
  urls: Record<string, string>; // WebP by box size ("64", "300", ...)
  jpeg: Record<string, string>;
}

export interface User {
  id: number;
  email: string;
  display_name: string;
  role: string;
  tier: string;
}

export interface Track {
  id: number;
  title: string;
  artists: string[];
  release_id: number | null;
  duration_sec: number | null;
  artwork?: Artwork | null; // every listing carries it (the track's cover, else its release's)
  release_title?: string | null;
  loudness?: Loudness | null; // EBU R128 / ReplayGain 2.0 figures, null until measured
  track_number?: number | null;
  /** false when the server says it cannot be played here now (a playlist or queue entry): shown greyed, skipped. */
  available?: boolean;
}

export interface Artist {
  id: number;
  name: string;
  artwork: Artwork | null;
}

export interface Release {
  id: number;
  title: string;
  release_date: string | null;
  artist: Artist | null;
  artwork: Artwork | null;
}

export interface Playlist {
  id: number;
  owner_id?: number;
  name: string;
  description?: string;
  public?: boolean;
  track_count: number;
  duration_ms: number;
  version?: number;
}

export interface PlaylistEntry {
  entry_id: number;
  track: Track | null; // null: deleted from the catalog
  available: boolean;
}

export type MarkKind = "track" | "release" | "artist";

export interface Marks {
  id: number;
  starred: boolean;
  rating: number | null;
}

export interface Favourite {
  kind: MarkKind;
  id: number;
  title: string;
  artists: string[];
  starred_at: string;
  rating: number | null;
  available: boolean | null;
  artwork: Artwork | null; // a track's cover (else its release's), a release's, an artist's latest release's
}

export interface SavedQueue {
  entries: { track: Track; available: boolean }[];
  current_index: number;
  position_ms: number;
  device: string | null;
  version: number;
}

export interface Suggestion {
  kind: "track" | "artist" | "release" | string;
  id: number;
  text: string;
  highlight: string;
}

export interface SearchHit {
  kind: string;
  id: number;
  title: string;
  artists: string[];
  release: string | null;
  artwork?: Artwork | null;
}

export interface StreamGrant {
  track_id: number;
  session_id: string;
  territory: string | null;
  duration_sec: number;
  hls_url: string;
  mp3_url: string | null;
  flac_url: string | null;
  waveform_url: string | null;
  expires_at: number;
  /** A protected track's Clear Key licence route (POST, short-lived token in it); absent when clear. */
  licence_url?: string | null;
  /** Asked for with `inline`: what the first requests of a play would bring (delivery/start.py). */
  start?: StreamStart | null;
}

/** The signed master playlist, the lightest level's URL and playlist, and its init section (base64). */
export interface StreamStart {
  master: string;
  level_url: string;
  level: string;
  init: string;
}

/** audiowaveform's JSON (version 2): `data` holds min/max pairs per pixel. */
export interface WaveformPeaks {
  version: number;
  channels: number;
  sample_rate: number;
  samples_per_pixel: number;
  bits: number;
  length: number;
  data: number[];
}

export type EventKind = "start" | "progress" | "pause" | "seek" | "stop";

export interface PlaybackEvent {
  id: string;
  session_id: string;
  kind: EventKind;
  occurred_at: string;
  seconds_played?: number;
  position_ms?: number;
  quality?: string;
  track_id?: number;
  playback_rate?: number;
}

/** An answer other than 2xx, with the server's `{"error", "reason"}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason || error || `HTTP ${status}`);
  }
}

const TOKEN_KEY = "cadenza.token";
let token: string | null = localStorage.getItem(TOKEN_KEY);
let onUnauthorized: () => void = () => {};

export function setToken(value: string | null): void {
  token = value;
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

export function hasToken(): boolean {
  return token !== null;
}

/** Called when the server refuses the token (expired, revoked): the app goes back to the login screen. */
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

async function send(method: string, path: string, body?: BodyInit): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const resp = await fetch(path, { method, headers, body });
  if (!resp.ok) {
    const detail = await resp.json().catch(() => ({}));
    if (resp.status === 401 && token) {
      setToken(null);
      onUnauthorized();
    }
    throw new ApiError(resp.status, detail.error ?? "", detail.reason ?? resp.statusText);
  }
  return resp;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const resp = await send(method, path, body === undefined ? undefined : JSON.stringify(body));
  return resp.status === 204 ? (undefined as T) : ((await resp.json()) as T);
}

const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();

export const api = {
  login: (email: string, password: string) =>
    call<{ access_token: string; user: User }>("POST", "/api/auth/login", { email, password }),
  register: (email: string, password: string, display_name?: string) =>
    call<User>("POST", "/api/auth/register", { email, password, display_name: display_name || null }),
  logout: () => call<void>("POST", "/api/auth/logout"),
  me: () => call<User>("GET", "/api/me"),

  tracks: (limit = 50, after_id = 0) => call<Track[]>("GET", `/api/tracks?${q({ limit, after_id })}`),
  track: (id: number) => call<Track>("GET", `/api/tracks/${id}`),
  artists: (limit = 100, after_id = 0) => call<Artist[]>("GET", `/api/artists?${q({ limit, after_id })}`),
  artist: (id: number) => call<Artist & { tracks: Track[] }>("GET", `/api/artists/${id}`),
  releases: (limit = 100, after_id = 0) => call<Release[]>("GET", `/api/releases?${q({ limit, after_id })}`),
  release: (id: number) => call<Release & { tracks: Track[] }>("GET", `/api/releases/${id}`),
  playlists: () => call<Playlist[]>("GET", "/api/playlists"),
  recent: (limit = 12) =>
    call<{ track: Track; available: boolean }[]>("GET", `/api/me/recent?${q({ limit })}`),
  playlistTracks: (id: number, limit = 500) =>
    call<{ playlist: Playlist; entries: PlaylistEntry[]; next_after: number | null }>(
      "GET",
      `/api/playlists/${id}/tracks?${q({ limit })}`,
    ),

  // The library: playlists, favourites, ratings, the saved queue (src/cadenza/web/api/library.py).
  createPlaylist: (name: string, description = "", isPublic = false) =>
    call<Playlist>("POST", "/api/playlists", { name, description, public: isPublic }),
  updatePlaylist: (id: number, change: { name?: string; description?: string; public?: boolean }) =>
    call<Playlist>("PATCH", `/api/playlists/${id}`, change),
  deletePlaylist: (id: number) => call<void>("DELETE", `/api/playlists/${id}`),
  addToPlaylist: (id: number, track_ids: number[]) =>
    call<{ entry_ids: number[]; playlist: Playlist }>("POST", `/api/playlists/${id}/tracks`, { track_ids }),
  removeFromPlaylist: (id: number, entry: number) => call<Playlist>("DELETE", `/api/playlists/${id}/tracks/${entry}`),
  movePlaylistEntry: (id: number, entry: number, index: number) =>
    call<Playlist>("POST", `/api/playlists/${id}/tracks/${entry}/move`, { index }),
  favourites: (kind: MarkKind, limit = 200) =>
    call<{ items: Favourite[]; next_after: string | null }>("GET", `/api/me/favourites?${q({ kind, limit })}`),
  star: (kind: MarkKind, id: number) => call<unknown>("PUT", `/api/me/favourites/${kind}/${id}`),
  unstar: (kind: MarkKind, id: number) => call<void>("DELETE", `/api/me/favourites/${kind}/${id}`),
  rate: (kind: MarkKind, id: number, rating: number) => call<unknown>("PUT", `/api/me/ratings/${kind}/${id}`, { rating }),
  marks: (kind: MarkKind, ids: number[]) =>
    call<Marks[]>("GET", `/api/me/marks/${kind}?${new URLSearchParams(ids.map((i) => ["ids", String(i)]))}`),
  savedQueue: () => call<SavedQueue>("GET", "/api/me/queue"),
  saveQueue: (track_ids: number[], current_index: number, position_ms: number, device: string) =>
    call<{ version: number }>("PUT", "/api/me/queue", { track_ids, current_index, position_ms, device }),

  suggest: (text: string, limit = 8) => call<Suggestion[]>("GET", `/api/search/suggest?${q({ q: text, limit })}`),
  search: (text: string, type: "track" | "artist" | "release", limit = 20) =>
    call<{ hits: SearchHit[]; total: number }>("GET", `/api/search?${q({ q: text, type, limit })}`),

  /** Signed URLs for one play, and the playback session the events below refer to; with `inline`, what
   *  the play starts from too (`start`), so that its next request is the first segment. */
  stream: (id: number, inline = false) =>
    call<StreamGrant>("GET", `/api/tracks/${id}/stream${inline ? "?inline=start" : ""}`),
  /** A protected track's key: the Clear Key CDM's request (JSON `{"kids": [...]}`) posted to the grant's
   * `licence_url` with the listener's token; the answer is the JWK set for `MediaKeySession.update`. */
  licence: async (url: string, request: ArrayBuffer): Promise<ArrayBuffer> =>
    (await send("POST", url, request)).arrayBuffer(),
  waveform: async (url: string): Promise<WaveformPeaks> => {
    const resp = await fetch(url);
    if (!resp.ok) throw new ApiError(resp.status, "waveform", resp.statusText);
    return (await resp.json()) as WaveformPeaks;
  },

  sendEvents: (events: PlaybackEvent[]) =>
    call<{ accepted: string[]; rejected: unknown[] }>("POST", "/api/playback/events", {
      sent_at: new Date().toISOString(),
      events,
    }),
  /** For a page being hidden or closed: no Authorization header, the session id is the credential. */
  beaconEvents: (events: PlaybackEvent[]): boolean =>
    navigator.sendBeacon(
      "/api/playback/beacon",
      new Blob([JSON.stringify({ sent_at: new Date().toISOString(), events })], { type: "application/json" }),
    ),
};
