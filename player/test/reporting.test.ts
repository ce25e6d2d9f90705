import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PlaybackEvent } from "../src/api";
import { HEARTBEAT_MS, PlaybackReport } from "../src/reporting";

function recorder(fail = false) {
  const sent: PlaybackEvent[] = [];
  const beaconed: PlaybackEvent[] = [];
  const sink = {
    send: vi.fn(async (events: PlaybackEvent[]) => {
      if (fail) throw new Error("offline");
      sent.push(...events);
    }),
    beacon: (events: PlaybackEvent[]) => (beaconed.push(...events), true),
  };
  return { sent, beaconed, sink };
}

const flushed = () => new Promise((r) => setTimeout(r, 0));

describe("playback reporting", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] }));
  afterEach(() => vi.useRealTimers());

  it("counts the seconds heard, not the distance a seek jumps", async () => {
    const { sent, sink } = recorder();
    const r = new PlaybackReport("s1", 7, () => "aac_128", sink);
    r.playing(0);
    for (let t = 0.25; t <= 4; t += 0.25) r.advance(t); // 4 s heard
    r.seeked(60);
    for (let t = 60.25; t <= 62; t += 0.25) r.advance(t); // 2 s heard
    r.paused(62);
    await flushed();
    expect(sent.map((e) => e.kind)).toEqual(["start", "seek", "pause"]);
    expect(sent[2].seconds_played).toBeCloseTo(6, 3);
    expect(sent[1].position_ms).toBe(60_000);
    expect(sent.every((e) => e.session_id === "s1" && e.quality === "aac_128" && e.track_id === 7)).toBe(true);
  });

  it("beats every 10 s with what was heard since the last report", async () => {
    const { sent, sink } = recorder();
    const r = new PlaybackReport("s1", 7, () => "hls", sink);
    r.playing(0);
    for (let t = 0.5; t <= 10; t += 0.5) r.advance(t);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await flushed();
    expect(sent.map((e) => e.kind)).toEqual(["start", "progress"]);
    expect(sent[1].seconds_played).toBeCloseTo(10, 3);
    r.paused(10);
    vi.advanceTimersByTime(3 * HEARTBEAT_MS); // no heartbeat while paused
    await flushed();
    expect(sent.map((e) => e.kind)).toEqual(["start", "progress", "pause"]);
    expect(sent[2].seconds_played).toBe(0);
  });

  it("reports a raised playback rate with the music heard, so the server can judge the claim", async () => {
    const { sent, sink } = recorder();
    let rate = 1;
    const r = new PlaybackReport("s1", 7, () => "aac_128", sink, () => rate);
    r.playing(0);
    rate = 2;
    for (let t = 0.5; t <= 8; t += 0.5) r.advance(t); // 8 s of music in about 4 s at 2x
    r.paused(8);
    await flushed();
    expect(sent[0].playback_rate).toBeUndefined(); // at 1x nothing is added
    expect(sent[1].playback_rate).toBe(2);
    expect(sent[1].seconds_played).toBeCloseTo(8, 3);
  });

  it("starts a session once, however often playback resumes", async () => {
    const { sent, sink } = recorder();
    const r = new PlaybackReport("s1", 7, () => "hls", sink);
    r.playing(0);
    r.paused(1);
    r.playing(1);
    r.stopped(2);
    await flushed();
    expect(sent.filter((e) => e.kind === "start")).toHaveLength(1);
  });

  it("keeps events the server did not get, and hands them to the beacon when the page goes away", async () => {
    const { beaconed, sink } = recorder(true);
    const r = new PlaybackReport("s1", 7, () => "hls", sink);
    r.playing(0);
    for (let t = 0.25; t <= 3; t += 0.25) r.advance(t);
    await flushed();
    r.hide(3);
    expect(beaconed.map((e) => e.kind)).toEqual(["start", "progress"]);
    expect(beaconed[1].seconds_played).toBeCloseTo(3, 3);
    expect(new Set(beaconed.map((e) => e.id)).size).toBe(2);
  });
});
