import { describe, expect, it } from "vitest";
import { columnsOf } from "../src/peaks";

const peaks = (data: number[], bits = 8) => ({
  version: 2, channels: 1, sample_rate: 44100, samples_per_pixel: 4410, bits, length: data.length / 2, data,
});

describe("waveform columns", () => {
  it("keeps the extremes of the pixels each bar covers, scaled to -1..1", () => {
    const cols = columnsOf(peaks([-64, 64, -128, 32, -10, 10, -20, 127]), 2);
    expect(cols).toEqual([[-1, 0.5], [-20 / 128, 127 / 128]]);
  });

  it("draws a bar per column when there are fewer pixels than columns", () => {
    const cols = columnsOf(peaks([-64, 64]), 4);
    expect(cols).toHaveLength(4);
    expect(cols.every(([lo, hi]) => lo === -0.5 && hi === 0.5)).toBe(true);
  });

  it("reads 16-bit peaks on their own scale", () => {
    expect(columnsOf(peaks([-16384, 32767], 16), 1)).toEqual([[-0.5, 32767 / 32768]]);
  });
});
