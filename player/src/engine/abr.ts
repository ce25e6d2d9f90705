// Adaptive bit rate: which AAC level to fetch next, from the measured throughput.
//
// Like hls.js: two exponentially weighted averages of the throughput, weighted by the seconds of media
// each download carried (half-lives of 3 s and 9 s), and the lower of the two is believed, so a drop is
// seen at once and a burst is not trusted too soon. The first segment is fetched from the lightest level
// (audio soonest), then the player climbs to the highest level that fits `UP_FACTOR` of the estimate.

import type { Level } from "./playlist";

export const UP_FACTOR = 0.7; // to switch up, a level must use under 70 % of the estimate
export const STAY_FACTOR = 0.9; // to stay on the current level, under 90 %

class Ewma {
  private estimate = 0;
  private weight = 0;
  constructor(private readonly halfLife: number) {}

  sample(seconds: number, value: number): void {
    const alpha = Math.pow(0.5, seconds / this.halfLife);
    this.estimate = value * (1 - alpha) + alpha * this.estimate;
    this.weight += seconds;
  }

  get value(): number {
    const zeroFactor = 1 - Math.pow(0.5, this.weight / this.halfLife);
    return zeroFactor > 0 ? this.estimate / zeroFactor : 0;
  }
}

export class BandwidthEstimator {
  private fast = new Ewma(3);
  private slow = new Ewma(9);
  samples = 0;

  /** A download of `bytes` that took `ms` and carried `mediaSeconds` of audio. */
  sample(bytes: number, ms: number, mediaSeconds: number): void {
    const bps = (bytes * 8) / Math.max(ms, 1) * 1000;
    const weight = Math.max(mediaSeconds, 0.1);
    this.fast.sample(weight, bps);
    this.slow.sample(weight, bps);
    this.samples++;
  }

  /** Bits per second, or null before the first sample. */
  get estimate(): number | null {
    return this.samples ? Math.min(this.fast.value, this.slow.value) : null;
  }
}

/** The index of the level to fetch next: the pinned one, else the lightest before any measurement,
 *  else the highest that fits the estimate (with less headroom asked to stay than to climb). */
export function chooseLevel(levels: Level[], estimate: number | null, current: number, pinned: string | null): number {
  if (pinned) {
    const i = levels.findIndex((l) => l.name === pinned);
    if (i >= 0) return i;
  }
  if (estimate === null) return 0;
  let choice = 0;
  levels.forEach((l, i) => {
    const factor = i <= current ? STAY_FACTOR : UP_FACTOR;
    if (l.bandwidth <= estimate * factor) choice = i;
  });
  return choice;
}
