import { describe, expect, it } from "vitest";
import { BandwidthEstimator, chooseLevel } from "../src/engine/abr";
import { timescaleOf, wholeLastFrame } from "../src/engine/mp4";
import { parseMaster, parseMedia, segmentAt } from "../src/engine/playlist";
import { tokenOf, withToken } from "../src/engine/token";
import { AAC_PRIMING_SAMPLES, heardSamples, place, sourceSamples } from "../src/engine/trim";

describe("trimming the encoder's priming and padding", () => {
  it("counts the source's samples: the segments' total less one priming frame", () => {
    // 154 367 source samples + 1024 priming = 155 391, as ffmpeg's EXTINFs (µs) add up
    expect(sourceSamples(1.509297 + 1.509297 + 0.505011, 44_100)).toBe(154_367);
  });

  it("prefers the catalogue's duration when the last frame was not shortened", () => {
    // a one-frame last segment: the EXTINFs hold 820 samples of padding
    expect(heardSamples(3.0, 1.509297 * 2 + 0.02322, 44_100)).toBe(132_300);
    expect(heardSamples(null, 3.523605, 44_100)).toBe(154_367);
    expect(heardSamples(99, 3.523605, 44_100)).toBe(154_367); // never more than the rendition holds
  });

  it("moves the priming frame before the track's start and cuts at its last sample", () => {
    const p = place(2, 88_200, 44_100);
    expect(p.timestampOffset).toBeCloseTo(2 - AAC_PRIMING_SAMPLES / 44_100, 12);
    expect(p.appendWindowStart).toBe(2);
    expect(p.appendWindowEnd).toBe(4);
    expect(p.end).toBe(4);
  });

  it("joins the next track at the previous one's last sample, with no drift over an album", () => {
    let start = 0;
    const lengths = [154_367, 132_300, 441_001, 7];
    for (const n of lengths) start = place(start, n, 44_100).end;
    const total = lengths.reduce((a, b) => a + b, 0);
    expect(Math.abs(start * 44_100 - total)).toBeLessThan(1e-6);
  });
});

describe("playlists", () => {
  const master = [
    "#EXTM3U", "#EXT-X-VERSION:7",
    '#EXT-X-STREAM-INF:BANDWIDTH=330000,AVERAGE-BANDWIDTH=320000,CODECS="mp4a.40.2"',
    "/media/k1~1800000000~3~" + "a".repeat(43) + "/tracks/1/v/hls/aac_320/index.m3u8",
    '#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=130000,CODECS="mp4a.40.2"',
    "/media/k1~1800000000~3~" + "a".repeat(43) + "/tracks/1/v/hls/aac_128/index.m3u8",
  ].join("\n");

  it("lists the levels lightest first, named as the server names them", () => {
    const levels = parseMaster(master, "http://h/media/x/tracks/1/v/hls/master.m3u8");
    expect(levels.map((l) => [l.name, l.bandwidth])).toEqual([["aac_128", 140000], ["aac_320", 330000]]);
  });

  it("reads the init segment and the segments' times", () => {
    const text = "#EXTM3U\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:1.5,\na.m4s\n#EXTINF:0.5,\nb.m4s\n#EXT-X-ENDLIST\n";
    const p = parseMedia(text, "http://h/x/aac_128/index.m3u8");
    expect(p.initUrl).toBe("http://h/x/aac_128/i.mp4");
    expect(p.segments.map((s) => [s.url.split("/").pop(), s.start])).toEqual([["a.m4s", 0], ["b.m4s", 1.5]]);
    expect(segmentAt(p, 1.6)).toBe(1);
    expect(segmentAt(p, 9)).toBe(1);
  });
});

describe("signed URLs", () => {
  const sig = "b".repeat(43);
  const url = `http://h/media/k1~1800000000~3~${sig}/tracks/1/v/hls/aac_128/x.m4s`;

  it("reads a token's expiry and swaps in a renewed token", () => {
    expect(tokenOf(url)).toEqual({ token: `k1~1800000000~3~${sig}`, expires: 1800000000 });
    const renewed = `k1~1800000600~3~${"c".repeat(43)}`;
    expect(withToken(url, renewed)).toBe(`http://h/media/${renewed}/tracks/1/v/hls/aac_128/x.m4s`);
    expect(tokenOf("http://h/api/x")).toBeNull();
  });
});

describe("adaptive bit rate", () => {
  const levels = [
    { name: "aac_128", bandwidth: 140_000, url: "" },
    { name: "aac_256", bandwidth: 270_000, url: "" },
    { name: "aac_320", bandwidth: 330_000, url: "" },
  ];

  it("starts on the lightest level, for the soonest first audio", () => {
    expect(chooseLevel(levels, null, -1, null)).toBe(0);
  });

  it("climbs to the highest level that fits the measured throughput", () => {
    const fast = new BandwidthEstimator();
    fast.sample(500_000, 100, 1.5); // 40 Mbit/s
    expect(chooseLevel(levels, fast.estimate, 0, null)).toBe(2);
    const slow = new BandwidthEstimator();
    for (let i = 0; i < 4; i++) slow.sample(37_500, 1500, 1.5); // 200 kbit/s
    expect(chooseLevel(levels, slow.estimate, 2, null)).toBe(0);
  });

  it("believes a drop at once: the lower of the fast and slow averages", () => {
    const e = new BandwidthEstimator();
    for (let i = 0; i < 5; i++) e.sample(1_000_000, 100, 1.5); // 80 Mbit/s
    const steady = e.estimate as number;
    e.sample(30_000, 1500, 1.5); // then 160 kbit/s
    // the fast average (half-life 3 s) falls by about a third after 1.5 s of media, the slow one
    // (9 s) by about a tenth: the estimate follows the fast one down
    expect((e.estimate as number) / steady).toBeLessThan(0.75);
  });

  it("keeps a pinned level whatever the throughput", () => {
    expect(chooseLevel(levels, 50_000, 0, "aac_320")).toBe(2);
    expect(chooseLevel(levels, 50_000, 0, "aac_999")).toBe(0); // unknown pin: automatic
  });
});

/** A box: 32-bit size, type, payload. */
function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 8 + payload.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, size);
  out.set([...type].map((c) => c.charCodeAt(0)), 4);
  let o = 8;
  for (const p of payload) { out.set(p, o); o += p.length; }
  return out;
}
const u32 = (...v: number[]) => { const b = new Uint8Array(v.length * 4); v.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x)); return b; };

describe("fMP4 boxes", () => {
  it("reads the sample rate from the init segment's mdhd", () => {
    const mdhd = box("mdhd", u32(0, 0, 0, 48_000, 0));
    const init = box("moov", box("trak", box("mdia", mdhd)));
    expect(timescaleOf(init.slice().buffer)).toBe(48_000);
  });

  it("sets a shortened last sample back to a whole frame, and leaves whole ones alone", () => {
    // trun: flags duration+size present (0x300), 3 samples, then (duration, size) pairs
    const trun = box("trun", u32(0x301, 3, 0, 1024, 10, 1024, 10, 767, 10));
    const seg = box("moof", box("traf", trun)).slice().buffer;
    const fixed = new DataView(wholeLastFrame(seg, 1024));
    expect(fixed.getUint32(fixed.byteLength - 8)).toBe(1024);
    expect(new DataView(seg).getUint32(seg.byteLength - 8)).toBe(767); // the fetched bytes are not changed
    const whole = box("moof", box("traf", box("trun", u32(0x1, 2, 0)))).slice().buffer;
    expect(wholeLastFrame(whole, 1024)).toBe(whole);
  });
});
