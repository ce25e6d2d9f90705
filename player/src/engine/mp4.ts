// Just enough ISO BMFF to read an fMP4 init segment's audio sample rate (the `mdhd` timescale, which
// ffmpeg sets to the sample rate for AAC), so trimming can count in samples.

const CONTAINERS = new Set(["moov", "trak", "mdia"]);

/** The first track's `mdhd` timescale, or null if the init segment has none. */
export function timescaleOf(init: ArrayBuffer): number | null {
  const view = new DataView(init);
  const walk = (from: number, to: number): number | null => {
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
      if (size < header || off + size > to) return null;
      if (type === "mdhd") {
        const version = view.getUint8(off + header);
        return view.getUint32(off + header + (version === 1 ? 20 : 12));
      }
      if (CONTAINERS.has(type)) {
        const found = walk(off + header, off + size);
        if (found !== null) return found;
      }
      off += size;
    }
    return null;
  };
  return walk(0, init.byteLength);
}
