// Queue actions: the listener's intentions, turned into store changes and playback.

import type { Track } from "./api";
import { getState, update } from "./store";
import { player } from "./playback";

/** Replace the queue with `tracks` and play the one at `index`. */
export function playTracks(tracks: Track[], index = 0): void {
  update({ queue: [...tracks], current: index });
  void player.playCurrent();
}

/** Insert after the track playing now (or start playing if nothing is). */
export function playNext(track: Track): void {
  const { queue, current } = getState();
  if (current < 0) return playTracks([track]);
  const next = [...queue];
  next.splice(current + 1, 0, track);
  update({ queue: next });
}

export function addToQueue(track: Track): void {
  const { queue, current } = getState();
  if (current < 0) return playTracks([track]);
  update({ queue: [...queue, track] });
}

/** Keep only the track playing now. */
export function clearQueue(): void {
  const { queue, current } = getState();
  const playing = current >= 0 ? [queue[current]] : [];
  update({ queue: playing, current: playing.length ? 0 : -1 });
}

export function removeFromQueue(index: number): void {
  const { queue, current } = getState();
  if (index === current) return;
  const next = queue.filter((_, i) => i !== index);
  update({ queue: next, current: index < current ? current - 1 : current });
}

export function next(): void {
  const { queue, current } = getState();
  if (current + 1 < queue.length) {
    update({ current: current + 1 });
    void player.playCurrent();
  } else {
    player.stop();
  }
}

/** Back to the start of the track after 3 s of it, else the track before. */
export function previous(): void {
  const { current, position } = getState();
  if (position > 3 || current <= 0) return player.seek(0);
  update({ current: current - 1 });
  void player.playCurrent();
}
