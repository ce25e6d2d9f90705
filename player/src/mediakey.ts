// How downloaded media is found again: by the object's path without its signed token. A stream grant's
// URLs carry a short-lived token in the path (`/media/{token}/tracks/12/<version>/hls/...`, see
// src/cadenza/delivery/signing.py) and possibly query parameters; a renewed token must still hit the
// copy a download stored, so the Cache Storage key drops both. Segment names are content hashes, so two
// URLs with the same key always hold the same bytes. The server itself keeps refusing unsigned requests:
// this key is never sent to it.

/** The Cache Storage cache of downloaded media (manifests, segments, waveforms, artwork). */
export const MEDIA_CACHE = "cadenza-media-v1";
/** API answers the app last saw, so an offline reload can show its screens. */
export const API_CACHE = "cadenza-api-v1";

const SIGNED = /^\/media\/[^/]+\/(.+)$/;

/** The token-free cache key of a media or artwork URL, or null when the URL is neither. */
export function mediaKey(url: string, base?: string): string | null {
  const u = new URL(url, base);
  const signed = SIGNED.exec(u.pathname);
  if (signed) return `${u.origin}/offline/${signed[1]}`;
  if (u.pathname.startsWith("/api/artwork/")) return `${u.origin}${u.pathname}`;
  return null;
}

/** API reads worth keeping for offline screens: GETs, but never the stream grant or a download (each
 * opens a playback session or a signed redirect, which must come from the server). */
export function cachesApiRead(pathname: string): boolean {
  return (
    pathname.startsWith("/api/") &&
    !pathname.startsWith("/api/artwork/") &&
    !/^\/api\/tracks\/\d+\/(stream|download)$/.test(pathname) &&
    !pathname.startsWith("/api/auth/")
  );
}
