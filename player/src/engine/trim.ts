// Where a track's audio goes on the one gapless timeline, and which of its samples are heard.
//
// Cadenza's renditions are ffmpeg AAC-LC in fMP4 HLS (src/cadenza/ingest/transcode.py). Measured on
// them (ffprobe and a box dump): the edit list is empty (`elst` media_time 0), the first media sample
// is the encoder's priming frame (ffmpeg's `initial_padding`, 1024 samples of pre-roll), and the last
// `trun` sample is shortened to the source's end (e.g. 680 of 1024), so the sum of the segment
// durations is exactly priming + source samples. So, for a track placed at timeline second `start`:
//
//   timestampOffset    = start - priming / rate   (media time `priming` lands on `start`)
//   appendWindowStart  = start                     (the priming frame is dropped; Chromium keeps it as
//                                                   the decoder's pre-roll, so the first heard sample
//                                                   is the source's first)
//   appendWindowEnd    = start + samples / rate    (the encoder's tail padding is cut off: the last
//                                                   frame's `trun` duration is first set back to a whole
//                                                   frame, engine/mp4.ts, so that it crosses the window)
//
// and the next track starts at exactly `start + samples / rate`.

/** Samples per AAC-LC frame. */
export const AAC_FRAME_SAMPLES = 1024;

/** ffmpeg's native AAC encoder primes with one frame (libavcodec/aacenc.c: `initial_padding = 1024`). */
export const AAC_PRIMING_SAMPLES = 1024;

export interface Placement {
  start: number; // timeline seconds where the first heard sample plays
  end: number; // timeline seconds where the last heard sample ends (= the next track's start)
  timestampOffset: number;
  appendWindowStart: number;
  appendWindowEnd: number;
  samples: number; // heard samples
  rate: number;
}

/** The number of source samples in a rendition whose segments last `mediaSeconds` in all (the
 *  playlist's EXTINF sum: microsecond-rounded values, so rounding to a sample is exact). */
export function sourceSamples(mediaSeconds: number, rate: number, priming = AAC_PRIMING_SAMPLES): number {
  return Math.max(0, Math.round(mediaSeconds * rate) - priming);
}

/**
 * The heard samples of a track: from the catalogue's duration (the decoded source's, to the microsecond,
 * src/cadenza/ingest/validate.py) when known, else from the playlist. The playlist alone is not enough:
 * ffmpeg shortens the last `trun` sample to the source's end only when the last segment holds more than
 * one frame; a one-frame last segment keeps its full 1024 (measured: a 3.0 s track summed to 820 samples
 * of padding too many). Never more than the rendition holds.
 */
export function heardSamples(durationSec: number | null | undefined, mediaSeconds: number, rate: number,
                             priming = AAC_PRIMING_SAMPLES): number {
  const held = sourceSamples(mediaSeconds, rate, priming);
  if (!durationSec || !Number.isFinite(durationSec) || durationSec <= 0) return held;
  return Math.min(held, Math.round(durationSec * rate));
}

/** Place a track of `samples` heard samples at `start` (seconds on the timeline). */
export function place(start: number, samples: number, rate: number, priming = AAC_PRIMING_SAMPLES): Placement {
  const end = start + samples / rate;
  return {
    start,
    end,
    timestampOffset: start - priming / rate,
    appendWindowStart: start,
    appendWindowEnd: end,
    samples,
    rate,
  };
}
