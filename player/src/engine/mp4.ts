// Just enough ISO BMFF for gapless joins: an init segment's audio sample rate (the `mdhd` timescale,
// which ffmpeg sets to the sample rate for AAC), so trimming can count in samples; and a media segment's
// last sample lengthened back to a whole AAC frame (see `wholeLastFrame`).

const CONTAINERS = new Set(["moov", "trak", "mdia", "moof", "traf"]);

interface Box {
  type: string;
  start: number; // of the header
  body: number; // of the payload
  end: number;
}

function boxes(view: DataView, from: number, to: number): Box[] {
  const out: Box[] = [];
  let off = from;
  while (off + 8 <= to) {
    let size = view.getUint32(off);
    const type = String.fromCharCode(
      view.getUint8(off + 4), view.getUint8(off + 5), view.getUint8(off + 6), view.getUint8(off + 7),
    );
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(off + 8));
      header = 16;
    } else if (size === 0) size = to - off;
    if (size < header || off + size > to) break;
    out.push({ type, start: off, body: off + header, end: off + size });
    off += size;
  }
  return out;
}

function find(view: DataView, from: number, to: number, type: string): Box | null {
  for (const b of boxes(view, from, to)) {
    if (b.type === type) return b;
    if (CONTAINERS.has(b.type)) {
      const found = find(view, b.body, b.end, type);
      if (found) return found;
    }
  }
  return null;
}

/**
 * The segment with its last sample's duration set back to `frame` samples, if its `trun` shortened it.
 *
 * ffmpeg ends a track's last `trun` sample at the source's last sample (e.g. 767 of 1024), but the
 * decoder still outputs the whole frame, and Chromium plays it all: the 257 samples of encoder padding
 * were a 5.8 ms gap at the join (measured). Lengthened to the whole frame, the sample crosses
 * `appendWindowEnd`, and Chromium trims the part past the window at sample precision (its partial
 * append-window trimming of audio frames), which removes exactly the padding.
 */
export function wholeLastFrame(segment: ArrayBuffer, frame: number): ArrayBuffer {
  const view = new DataView(segment);
  const trun = find(view, 0, segment.byteLength, "trun");
  if (!trun) return segment;
  const flags = view.getUint32(trun.body) & 0xffffff;
  if (!(flags & 0x100)) return segment; // every sample has the default duration: nothing shortened
  const count = view.getUint32(trun.body + 4);
  if (!count) return segment;
  let off = trun.body + 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
  const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
  off += (count - 1) * perSample; // the last sample's entry; its duration comes first
  if (off + 4 > trun.end || view.getUint32(off) >= frame) return segment;
  const copy = segment.slice(0);
  new DataView(copy).setUint32(off, frame);
  return copy;
}

/** The first track's `mdhd` timescale, or null if the init segment has none. */
export function timescaleOf(init: ArrayBuffer): number | null {
  const view = new DataView(init);
  const mdhd = find(view, 0, init.byteLength, "mdhd");
  if (!mdhd) return null;
  const version = view.getUint8(mdhd.body);
  return view.getUint32(mdhd.body + (version === 1 ? 20 : 12));
}
