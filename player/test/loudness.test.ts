import { describe, expect, it } from "vitest";
import { dbToLinear, gainDb, type Loudness } from "../src/loudness";

const loud: Loudness = {
  replaygain_track_gain_db: -6, // a loud master: -12 LUFS
  replaygain_track_peak: 1.0,
  album: { replaygain_album_gain_db: -4, replaygain_album_peak: 1.0 },
};

describe("loudness normalisation", () => {
  it("applies the track's ReplayGain in track mode and the album's in album mode", () => {
    expect(gainDb("track", loud)).toBe(-6);
    expect(gainDb("album", loud)).toBe(-4);
  });

  it("is off when switched off or when the track is not measured", () => {
    expect(gainDb("off", loud)).toBe(0);
    expect(gainDb("track", null)).toBe(0);
    expect(gainDb("track", { ...loud, replaygain_track_gain_db: null })).toBe(0);
  });

  it("falls back to the track's figures in album mode for a track without album figures", () => {
    expect(gainDb("album", { ...loud, album: null })).toBe(-6);
  });

  it("limits a boost so that the true peak stays at or under full scale", () => {
    const quiet = { replaygain_track_gain_db: 9, replaygain_track_peak: 0.5, album: null };
    expect(gainDb("track", quiet)).toBeCloseTo(20 * Math.log10(2), 10); // +6.02 dB, not +9
    expect(dbToLinear(gainDb("track", quiet)) * 0.5).toBeCloseTo(1, 10);
  });

  it("converts decibels to an amplitude factor", () => {
    expect(dbToLinear(0)).toBe(1);
    expect(dbToLinear(-20)).toBeCloseTo(0.1, 12);
  });
});
