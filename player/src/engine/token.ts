// Signed media URLs carry their token in the path: `/media/{kid}~{exp}~{depth}~{sig}/{key}`
// (src/cadenza/delivery/signing.py). The master playlist's variant URLs carry a token for the whole
// track, so a renewed token is swapped into every later segment URL.

const TOKEN = /\/media\/([A-Za-z0-9_-]{1,32}~([0-9]{1,12})~[0-9]{1,2}~[A-Za-z0-9_-]{43})\//;

/** The token of a signed media URL and its expiry (Unix seconds), or null for any other URL. */
export function tokenOf(url: string): { token: string; expires: number } | null {
  const m = TOKEN.exec(url);
  return m ? { token: m[1], expires: Number(m[2]) } : null;
}

/** `url` with its media token replaced by `token` (unchanged if it has none). */
export function withToken(url: string, token: string): string {
  return url.replace(TOKEN, `/media/${token}/`);
}
