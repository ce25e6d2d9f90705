// Loudness normalisation: the gain to apply to a track from the server's EBU R128 / ReplayGain 2.0
// figures (src/cadenza/web/api/catalog.py `LoudnessOut`). ReplayGain 2.0 brings every track (or
// album) to -18 LUFS; a positive gain is limited so that the true peak stays at or under 0 dBTP (no
// clipping). The gain is applied in the page by a Web Audio GainNode (playback.ts).

export type NormaliseMode = "track" | "album" | "off";

export interface AlbumLoudness {
  replaygain_album_gain_db: number | null;
  replaygain_album_peak: number | null;
}

export interface Loudness {
  replaygain_track_gain_db: number | null;
  replaygain_track_peak: number | null;
  album: AlbumLoudness | null;
}

/** The gain in dB for `mode`; 0 when off or when the track is not measured. Album mode falls back to
 *  the track's figures for a track without a release. */
export function gainDb(mode: NormaliseMode, loudness: Loudness | null | undefined): number {
  if (mode === "off" || !loudness) return 0;
  const album = mode === "album" && loudness.album?.replaygain_album_gain_db != null ? loudness.album : null;
  const gain = album ? album.replaygain_album_gain_db : loudness.replaygain_track_gain_db;
  const peak = album ? album.replaygain_album_peak : loudness.replaygain_track_peak;
  if (gain == null || !Number.isFinite(gain)) return 0;
  if (peak != null && peak > 0) return Math.min(gain, -20 * Math.log10(peak));
  return gain;
}

export function dbToLinear(db: number): number {
  return Math.pow(10, db / 20);
}
