import { beforeEach, describe, expect, it, vi } from "vitest";

// Node has no localStorage: a Map behind the same four methods stands in for the browser's storage.
const store = new Map<string, string>();
vi.stubGlobal("localStorage", {
  getItem: (k: string) => store.get(k) ?? null,
  setItem: (k: string, v: string) => void store.set(k, String(v)),
  removeItem: (k: string) => void store.delete(k),
  clear: () => store.clear(),
});

const { cachesApiRead, mediaKey } = await import("../src/mediakey");
const { playlistUris, singleVariant } = await import("../src/downloads");
const { ApiError } = await import("../src/api");
const { drain, enqueue, queued } = await import("../src/outbox");

const ORIGIN = "http://127.0.0.1:8000";

describe("media cache keys", () => {
  it("drop the signed token, so a renewed token finds the same stored bytes", () => {
    const a = mediaKey(`${ORIGIN}/media/k1~1764130000~3~${"A".repeat(43)}/tracks/12/ab12/hls/aac_128/seg-9f.m4s`);
    const b = mediaKey(`${ORIGIN}/media/k2~1764999999~3~${"B".repeat(43)}/tracks/12/ab12/hls/aac_128/seg-9f.m4s`);
    expect(a).toBe(`${ORIGIN}/offline/tracks/12/ab12/hls/aac_128/seg-9f.m4s`);
    expect(b).toBe(a);
  });

  it("drop query parameters too, and keep artwork by its content-hashed path", () => {
    expect(mediaKey("/media/t/tracks/1/v/waveform.json?sig=abc&exp=1", ORIGIN)).toBe(`${ORIGIN}/offline/tracks/1/v/waveform.json`);
    expect(mediaKey("/api/artwork/ff00/300.webp?x=1", ORIGIN)).toBe(`${ORIGIN}/api/artwork/ff00/300.webp`);
  });

  it("leave everything else alone", () => {
    expect(mediaKey("/api/tracks/1/stream", ORIGIN)).toBeNull();
    expect(mediaKey("/media/only-a-token", ORIGIN)).toBeNull();
  });

  it("never keep the stream grant, a download redirect or sign-in answers as offline API reads", () => {
    expect(cachesApiRead("/api/playlists/3/tracks")).toBe(true);
    expect(cachesApiRead("/api/me")).toBe(true);
    expect(cachesApiRead("/api/tracks/3/stream")).toBe(false);
    expect(cachesApiRead("/api/tracks/3/download")).toBe(false);
    expect(cachesApiRead("/api/auth/login")).toBe(false);
  });
});

const MASTER = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS="mp4a.40.2"
/media/tok/tracks/1/v/hls/aac_128/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=270000,CODECS="mp4a.40.2"
/media/tok/tracks/1/v/hls/aac_256/index.m3u8
`;

describe("a download's playlists", () => {
  it("keep only the chosen level in the master, so the offline player never asks for another", () => {
    const one = singleVariant(MASTER, "aac_256");
    expect(one?.uri).toBe("/media/tok/tracks/1/v/hls/aac_256/index.m3u8");
    expect(one?.master.split("\n").filter((l) => l.startsWith("#EXT-X-STREAM-INF"))).toHaveLength(1);
    expect(one?.master).toContain("#EXT-X-VERSION:7");
    expect(one?.master).not.toContain("aac_128");
    expect(singleVariant(MASTER, "aac_320")).toBeNull();
  });

  it("list the init section and every segment of a level", () => {
    const level = `#EXTM3U\n#EXT-X-MAP:URI="init-1a.mp4"\n#EXTINF:6.0,\nseg-aa.m4s\n#EXTINF:2.5,\nseg-bb.m4s\n#EXT-X-ENDLIST\n`;
    expect(playlistUris(level)).toEqual(["init-1a.mp4", "seg-aa.m4s", "seg-bb.m4s"]);
  });
});

const event = (id: string) => ({ id, session_id: "s", kind: "progress" as const, occurred_at: "2026-11-30T10:00:00Z" });

describe("the playback event outbox", () => {
  beforeEach(() => store.clear());

  it("keeps events until the server takes them, each once, with their own timestamps", async () => {
    enqueue([event("a"), event("b")]);
    enqueue([event("b"), event("c")]);
    expect(queued().map((e) => e.id)).toEqual(["a", "b", "c"]);
    await drain(async () => {
      throw new TypeError("Failed to fetch"); // still offline
    });
    expect(queued()).toHaveLength(3);
    const sent: string[] = [];
    await drain(async (events) => void sent.push(...events.map((e) => `${e.id}@${e.occurred_at}`)));
    expect(sent).toEqual(["a@2026-11-30T10:00:00Z", "b@2026-11-30T10:00:00Z", "c@2026-11-30T10:00:00Z"]);
    expect(queued()).toHaveLength(0);
  });

  it("drops a batch the server refuses outright (a 4xx would fail forever) but keeps one it asks to retry", async () => {
    enqueue([event("a")]);
    await drain(async () => {
      throw new ApiError(503, "unavailable", "retry");
    });
    expect(queued()).toHaveLength(1);
    await drain(async () => {
      throw new ApiError(422, "invalid", "bad batch");
    });
    expect(queued()).toHaveLength(0);
  });
});

describe("starting from the grant's start pieces", () => {
  const level = '#EXTM3U\n#EXT-X-MAP:URI="0a1b.mp4"\n#EXTINF:6.0,\nf00d.m4s\n#EXTINF:6.0,\nbeef.m4s\n#EXT-X-ENDLIST\n';
  const grant = {
    track_id: 1, session_id: "s1", territory: null, duration_sec: 12, hls_url: "/media/t0/tracks/1/v/hls/master.m3u8",
    mp3_url: null, flac_url: null, waveform_url: null, expires_at: 0,
    start: { master: MASTER, level_url: "/media/tok/tracks/1/v/hls/aac_128/index.m3u8", level, init: btoa("\0\0\0\x18ftyp") },
  };

  it("names the first segment as the engine resolves it: under the level's signed URL", async () => {
    const { firstSegmentUrl } = await import("../src/prefetch");
    expect(firstSegmentUrl(grant, ORIGIN + "/")).toBe(`${ORIGIN}/media/tok/tracks/1/v/hls/aac_128/f00d.m4s`);
    expect(firstSegmentUrl({ ...grant, start: null }, ORIGIN + "/")).toBeNull();
    expect(firstSegmentUrl({ ...grant, start: { ...grant.start, level: "#EXTM3U\n" } }, ORIGIN + "/")).toBeNull();
  });

  it("hands the engine the pieces with the init section decoded, and nothing for a grant without them", async () => {
    const { startHints } = await import("../src/prefetch");
    const hints = startHints(grant);
    expect(hints?.master).toBe(MASTER);
    expect(hints?.levelUrl).toBe(grant.start.level_url);
    expect(Array.from(new Uint8Array(hints!.init))).toEqual([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70]);
    expect(hints?.first).toBeUndefined(); // no hover asked for the first segment
    expect(startHints({ ...grant, start: undefined })).toBeUndefined();
  });
});
