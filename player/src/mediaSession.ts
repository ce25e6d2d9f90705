// The Media Session API: what the lock screen, the notification and the media keys show and do. Title,
// artists, release and cover come from the queue's track; play, pause, next, previous and seeking go
// through the same actions as the player bar; the position state follows the store.

import { api, type Artwork } from "./api";
import { player } from "./playback";
import { next, previous } from "./queue";
import { currentTrack, getState, watch } from "./store";

function artworkOf(art: Artwork | null | undefined): MediaImage[] {
  if (!art) return [];
  return Object.entries(art.jpeg).map(([size, src]) => ({ src, sizes: `${size}x${size}`, type: "image/jpeg" }));
}

const releaseTitles = new Map<number, Promise<string>>();

/** The release's title: on the track when the list that queued it said it, else asked once per release. */
function albumOf(t: { release_id: number | null; release_title?: string | null }): Promise<string> {
  if (t.release_title != null || t.release_id === null) return Promise.resolve(t.release_title ?? "");
  let title = releaseTitles.get(t.release_id);
  if (!title) {
    title = api.release(t.release_id).then((r) => r.title, () => "");
    releaseTitles.set(t.release_id, title);
  }
  return title;
}

export function installMediaSession(): void {
  if (!("mediaSession" in navigator)) return;
  const session = navigator.mediaSession;
  watch(currentTrack, (t) => {
    if (!t) return void (session.metadata = null);
    const metadata = new MediaMetadata({
      title: t.title,
      artist: t.artists.join(", "),
      album: t.release_title ?? "",
      artwork: artworkOf(t.artwork),
    });
    session.metadata = metadata;
    void albumOf(t).then((album) => {
      if (session.metadata === metadata) metadata.album = album;
    });
  });
  watch((s) => s.playing, (playing) => {
    session.playbackState = currentTrack() ? (playing ? "playing" : "paused") : "none";
  });
  watch((s) => `${Math.floor(s.position)}|${s.duration}`, (_, s) => {
    if (!(s.duration > 0) || !session.setPositionState) return;
    try {
      session.setPositionState({
        duration: s.duration,
        position: Math.min(Math.max(0, s.position), s.duration),
        playbackRate: player.audio.playbackRate || 1,
      });
    } catch {
      // a position the browser judges invalid for a moment (a track changing): the next one is fine
    }
  });
  const handlers: [MediaSessionAction, MediaSessionActionHandler][] = [
    ["play", () => getState().playing || player.toggle()],
    ["pause", () => getState().playing && player.toggle()],
    ["nexttrack", () => next()],
    ["previoustrack", () => previous()],
    ["seekto", (d) => d.seekTime !== undefined && player.seek(d.seekTime)],
    ["seekbackward", (d) => player.seek(getState().position - (d.seekOffset ?? 10))],
    ["seekforward", (d) => player.seek(getState().position + (d.seekOffset ?? 10))],
    ["stop", () => player.stop()],
  ];
  for (const [action, handler] of handlers) {
    try {
      session.setActionHandler(action, handler);
    } catch {
      // an action this browser does not know
    }
  }
}
