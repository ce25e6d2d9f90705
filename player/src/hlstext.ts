// The little of HLS playlists the downloads read themselves: engine/playlist.ts reads the rest.

/** The master playlist reduced to the one variant of `quality` (so the player, offline, never asks for
 * another level), and that variant's URI; null when the master has no such variant. */
export function singleVariant(master: string, quality: string): { master: string; uri: string } | null {
  const lines = master.split(/\r?\n/).map((l) => l.trim());
  const head = lines.filter((l) => /^#EXT(M3U|-X-VERSION|-X-INDEPENDENT-SEGMENTS)/.test(l));
  for (let i = 0; i < lines.length - 1; i++) {
    const uri = lines[i + 1];
    if (lines[i].startsWith("#EXT-X-STREAM-INF") && uri.includes(`/${quality}/`)) {
      return { master: [...head, lines[i], uri, ""].join("\n"), uri };
    }
  }
  return null;
}

/** The URIs a media playlist fetches: its init section (EXT-X-MAP) and segments, as written. */
export function playlistUris(playlist: string): string[] {
  const uris: string[] = [];
  for (const raw of playlist.split(/\r?\n/)) {
    const line = raw.trim();
    const map = /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(line);
    if (map) uris.push(map[1]);
    else if (line && !line.startsWith("#")) uris.push(line);
  }
  return uris;
}
