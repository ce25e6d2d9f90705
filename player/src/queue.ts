// Queue actions: the listener's intentions (play now, play next, add, move, remove, shuffle, repeat)
// turned into store changes and playback. The arithmetic is in playOrder.ts (pure, unit-tested).

import type { Track } from "./api";
import {
  currentAfterMove, currentAfterRemove, moved, nextIndex, nextRepeat, previousIndex, shuffleQueue, unshuffleQueue,
} from "./playOrder";
import { getState, update } from "./store";
import { player } from "./playback";

/** The order to go back to when shuffle is turned off (null while not shuffled). */
let unshuffled: Track[] | null = null;

const playable = (queue: Track[]) => (i: number) => queue[i]?.available !== false;

function start(queue: Track[], index: number): void {
  update({ queue, current: index });
  if (index >= 0) void player.playCurrent();
  else player.stop();
}

/** Replace the queue with `tracks` and play the one at `index` (the first playable one from there). */
export function playTracks(tracks: Track[], index = 0, shuffle = getState().shuffle): void {
  let queue = [...tracks];
  let at = queue[index]?.available === false ? nextIndex(queue.length, index, "off", false, playable(queue)) : index;
  unshuffled = null;
  if (shuffle) {
    unshuffled = queue;
    ({ queue, current: at } = shuffleQueue(queue, at));
  }
  update({ shuffle });
  start(queue, at);
}

/** Shuffle play: a list in random order, from a random first track. */
export function shufflePlay(tracks: Track[]): void {
  const from = tracks.findIndex((t) => t.available !== false);
  if (from < 0) return;
  playTracks(tracks, Math.floor(Math.random() * tracks.length), true);
}

/** Insert after the track playing now and play them now. */
export function playNow(tracks: Track[]): void {
  const { queue, current } = getState();
  if (current < 0) return playTracks(tracks);
  const next = [...queue];
  next.splice(current + 1, 0, ...tracks);
  unshuffled?.push(...tracks);
  start(next, current + 1);
}

/** Insert after the track playing now (or start playing if nothing is). */
export function playNext(track: Track | Track[]): void {
  const tracks = Array.isArray(track) ? track : [track];
  const { queue, current } = getState();
  if (current < 0) return playTracks(tracks);
  const next = [...queue];
  next.splice(current + 1, 0, ...tracks);
  unshuffled?.push(...tracks);
  update({ queue: next });
}

export function addToQueue(track: Track | Track[]): void {
  const tracks = Array.isArray(track) ? track : [track];
  const { queue, current } = getState();
  if (current < 0) return playTracks(tracks);
  unshuffled?.push(...tracks);
  update({ queue: [...queue, ...tracks] });
}

/** Keep only the track playing now. */
export function clearQueue(): void {
  const { queue, current } = getState();
  const playing = current >= 0 ? [queue[current]] : [];
  unshuffled = getState().shuffle ? [...playing] : null;
  update({ queue: playing, current: playing.length ? 0 : -1 });
}

/** Take a row out; taking out the track playing moves on to the next one. */
export function removeFromQueue(index: number): void {
  const { queue, current } = getState();
  if (index < 0 || index >= queue.length) return;
  const rest = queue.filter((_, i) => i !== index);
  if (unshuffled) {
    const k = unshuffled.indexOf(queue[index]);
    if (k >= 0) unshuffled.splice(k, 1);
  }
  const after = currentAfterRemove(current, index);
  if (after >= 0 || current < 0) return update({ queue: rest, current: after });
  // The playing track was removed: the one that took its place plays, if any can.
  const at = rest[index]?.available !== false && index < rest.length ? index : nextIndex(rest.length, index - 1, "off", false, playable(rest));
  start(rest, at);
}

/** Move the row at `from` to index `to` (drag and drop, or the move up/down buttons). */
export function moveInQueue(from: number, to: number): void {
  const { queue, current } = getState();
  update({ queue: moved(queue, from, to), current: currentAfterMove(current, from, to, queue.length) });
}

/** Play the row at `index` of the queue as it is. */
export function jumpTo(index: number): void {
  const { queue } = getState();
  if (queue[index]?.available === false) return;
  start(queue, index);
}

export function toggleShuffle(): void {
  const { queue, current, shuffle } = getState();
  if (shuffle) {
    const back = unshuffleQueue(queue, current, unshuffled ?? queue);
    unshuffled = null;
    update({ shuffle: false, queue: back.queue, current: back.current });
  } else {
    unshuffled = [...queue];
    const mixed = shuffleQueue(queue, current);
    update({ shuffle: true, queue: mixed.queue, current: queue.length && current < 0 ? -1 : mixed.current });
  }
}

export function cycleRepeat(): void {
  const repeat = nextRepeat(getState().repeat);
  localStorage.setItem("cadenza.repeat", repeat);
  update({ repeat });
}

/** The track ended by itself: repeat one plays it again; unavailable tracks are skipped. */
export function ended(): void {
  const { queue, current, repeat } = getState();
  const at = nextIndex(queue.length, current, repeat, true, playable(queue));
  if (at < 0) return player.stop();
  start(queue, at);
}

/** The listener pressed next. */
export function next(): void {
  const { queue, current, repeat } = getState();
  const at = nextIndex(queue.length, current, repeat, false, playable(queue));
  if (at < 0) return player.stop();
  start(queue, at);
}

/** Back to the start of the track after 3 s of it, else the track before. */
export function previous(): void {
  const { queue, current, position, repeat } = getState();
  const at = previousIndex(queue.length, current, repeat, playable(queue));
  if (position > 3 || at < 0) return player.seek(0);
  start(queue, at);
}
