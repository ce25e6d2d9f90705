// The two HLS playlists Cadenza writes (src/cadenza/ingest/hls.py): a master naming the AAC levels, and
// per level a VOD media playlist with one EXT-X-MAP init segment and fMP4 media segments.

export interface Level {
  name: string; // the server's name ("aac_256"), read from the level's path
  bandwidth: number; // bits/s, the playlist's peak BANDWIDTH
  url: string;
}

export interface Segment {
  url: string;
  start: number; // seconds from the rendition's media time 0
  duration: number;
}

export interface MediaPlaylist {
  initUrl: string;
  segments: Segment[];
  total: number; // seconds, sum of EXTINF
}

function resolve(uri: string, base: string): string {
  return new URL(uri, base).toString();
}

function attr(line: string, name: string): string | null {
  const m = new RegExp(`(?:^|[,:])${name}=("([^"]*)"|[^,]*)`).exec(line);
  return m ? (m[2] ?? m[1]) : null;
}

/** Levels of a master playlist, lightest first. */
export function parseMaster(text: string, base: string): Level[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const levels: Level[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("#EXT-X-STREAM-INF:")) continue;
    const uri = lines.slice(i + 1).find((l) => l && !l.startsWith("#"));
    if (!uri) continue;
    const url = resolve(uri, base);
    const found = /\/([a-z0-9_]+)\/[^/]*\.m3u8/i.exec(new URL(url).pathname);
    const bandwidth = Number(attr(lines[i], "BANDWIDTH") ?? 0);
    levels.push({ name: found ? found[1] : `${Math.round(bandwidth / 1000)} kbps`, bandwidth, url });
  }
  return levels.sort((a, b) => a.bandwidth - b.bandwidth);
}

/** A VOD media playlist with its init segment. */
export function parseMedia(text: string, base: string): MediaPlaylist {
  let initUrl = "";
  const segments: Segment[] = [];
  let pending: number | null = null;
  let t = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("#EXT-X-MAP:")) initUrl = resolve(attr(line, "URI") ?? "", base);
    else if (line.startsWith("#EXTINF:")) pending = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith("#") && pending !== null) {
      segments.push({ url: resolve(line, base), start: t, duration: pending });
      t += pending;
      pending = null;
    }
  }
  if (!initUrl || !segments.length) throw new Error("not an fMP4 media playlist");
  return { initUrl, segments, total: segments.reduce((s, x) => s + x.duration, 0) };
}

/** The segment holding media second `t` (the last one for `t` at or past the end). */
export function segmentAt(p: MediaPlaylist, t: number): number {
  for (let i = 0; i < p.segments.length; i++) {
    if (t < p.segments[i].start + p.segments[i].duration) return i;
  }
  return p.segments.length - 1;
}
