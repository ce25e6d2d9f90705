// Waveform peaks (audiowaveform JSON, version 2) reduced to the bars a canvas of some width can show.

import type { WaveformPeaks } from "./api";

/** Min/max of each of `columns` bars, from the peaks' min/max pairs, scaled to -1..1. */
export function columnsOf(peaks: WaveformPeaks, columns: number): [number, number][] {
  const pairs = Math.floor(peaks.data.length / 2 / Math.max(1, peaks.channels));
  const full = peaks.bits === 8 ? 128 : 32768;
  const out: [number, number][] = [];
  for (let c = 0; c < columns; c++) {
    const from = Math.floor((c * pairs) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * pairs) / columns));
    let lo = 0;
    let hi = 0;
    for (let i = from; i < to && i < pairs; i++) {
      lo = Math.min(lo, peaks.data[2 * i]);
      hi = Math.max(hi, peaks.data[2 * i + 1]);
    }
    out.push([lo / full, hi / full]);
  }
  return out;
}
