// The app's one store: everything the screens show comes from here, and every change goes through
// `update`, which tells the subscribed components. No rule lives here either (the server decides).

import type { Track, User, WaveformPeaks } from "./api";
import type { NormaliseMode } from "./loudness";
import type { Repeat } from "./playOrder";

export type Route =
  | { name: "home" }
  | { name: "artists" }
  | { name: "artist"; id: number }
  | { name: "releases" }
  | { name: "release"; id: number }
  | { name: "tracks" }
  | { name: "playlist"; id: number }
  | { name: "playlists" }
  | { name: "favourites" }
  | { name: "search"; q: string }
  | { name: "downloads" };

export interface State {
  user: User | null;
  route: Route;
  queue: Track[];
  current: number; // index in `queue`, -1 when nothing is loaded
  playing: boolean;
  position: number; // seconds
  duration: number;
  volume: number; // 0..1
  quality: string | null; // the level playing now, as the stream says it ("aac_256", "native HLS")
  waveform: WaveformPeaks | null;
  notice: string | null; // what went wrong, in the listener's words
  queueOpen: boolean;
  normalise: NormaliseMode; // loudness normalisation (loudness.ts), kept in localStorage
  qualityPin: string; // "auto" or a level name ("aac_256"), kept in localStorage
  levels: string[]; // the levels the stream playing offers, lightest first
  shortcutsOpen: boolean;
  shuffle: boolean; // the queue is in shuffled order (queue.ts keeps the order to go back to)
  repeat: Repeat;
}

type Listener = (state: State, previous: State) => void;

let state: State = {
  user: null,
  route: { name: "home" },
  queue: [],
  current: -1,
  playing: false,
  position: 0,
  duration: 0,
  volume: Number(localStorage.getItem("cadenza.volume") ?? "1"),
  quality: null,
  waveform: null,
  notice: null,
  queueOpen: false,
  normalise: (localStorage.getItem("cadenza.normalise") as NormaliseMode | null) ?? "track",
  qualityPin: localStorage.getItem("cadenza.quality") ?? "auto",
  levels: [],
  shortcutsOpen: false,
  shuffle: false,
  repeat: (["off", "all", "one"].find((m) => m === localStorage.getItem("cadenza.repeat")) ?? "off") as Repeat,
};
const listeners = new Set<Listener>();

export function getState(): State {
  return state;
}

export function update(change: Partial<State>): void {
  const previous = state;
  state = { ...state, ...change };
  for (const l of listeners) l(state, previous);
}

/** Call `listener` when a value chosen by `select` changes (and once now); returns the unsubscribe. */
export function watch<T>(select: (s: State) => T, listener: (value: T, s: State) => void): () => void {
  let last = select(state);
  listener(last, state);
  const l: Listener = (s) => {
    const next = select(s);
    if (next !== last) {
      last = next;
      listener(next, s);
    }
  };
  listeners.add(l);
  return () => listeners.delete(l);
}

export function currentTrack(s: State = state): Track | null {
  return s.current >= 0 && s.current < s.queue.length ? s.queue[s.current] : null;
}
