// The queue's arithmetic, pure (no DOM, no store): which index plays next under shuffle and repeat,
// where the track playing goes when rows move, a seeded shuffle. `queue.ts` turns these into actions;
// test/playOrder.test.ts holds them to their word.

export type Repeat = "off" | "all" | "one";
export const REPEAT_MODES: readonly Repeat[] = ["off", "all", "one"];

/** The mode after `mode` in the repeat button's cycle: off → all → one → off. */
export function nextRepeat(mode: Repeat): Repeat {
  return REPEAT_MODES[(REPEAT_MODES.indexOf(mode) + 1) % REPEAT_MODES.length];
}

/** mulberry32: a small seeded generator, so a shuffle can be replayed exactly (tests, a saved seed). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher-Yates shuffle of a copy of `items` (every order equally likely for a fair `random`). */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Shuffle on: the track playing stays playing and comes first; everything else follows in random
 * order. Returns the new queue and the playing index in it (0, or -1 when nothing was playing). */
export function shuffleQueue<T>(queue: readonly T[], current: number, random: () => number = Math.random): { queue: T[]; current: number } {
  if (current < 0 || current >= queue.length) return { queue: shuffled(queue, random), current: -1 };
  const rest = queue.filter((_, i) => i !== current);
  return { queue: [queue[current], ...shuffled(rest, random)], current: 0 };
}

/** Shuffle off: back to `original` order for the items still queued (each occurrence counted once),
 * then those added while shuffled, in the order they are queued now. The playing item keeps playing. */
export function unshuffleQueue<T>(queue: readonly T[], current: number, original: readonly T[]): { queue: T[]; current: number } {
  const left = new Map<T, number>();
  for (const item of queue) left.set(item, (left.get(item) ?? 0) + 1);
  const restored: T[] = [];
  for (const item of original) {
    const n = left.get(item) ?? 0;
    if (n > 0) {
      restored.push(item);
      left.set(item, n - 1);
    }
  }
  const added: T[] = [];
  for (let i = queue.length - 1; i >= 0; i--) {
    const n = left.get(queue[i]) ?? 0;
    if (n > 0) {
      added.unshift(queue[i]);
      left.set(queue[i], n - 1);
    }
  }
  const out = [...restored, ...added];
  if (current < 0 || current >= queue.length) return { queue: out, current: -1 };
  // The same occurrence: the playing item is the k-th of its kind in the queue.
  const playing = queue[current];
  const k = queue.slice(0, current).filter((x) => x === playing).length;
  let seen = -1;
  const index = out.findIndex((x) => x === playing && ++seen === k);
  return { queue: out, current: index >= 0 ? index : out.indexOf(playing) };
}

/**
 * The index to play after `current`, or -1 to stop. `ended` is true when the track finished by itself
 * (repeat one plays it again) and false when the listener pressed next (repeat one moves on). Items
 * `playable` refuses (unavailable here, deleted) are skipped; repeat all wraps round once.
 */
export function nextIndex(length: number, current: number, repeat: Repeat, ended: boolean, playable: (i: number) => boolean = () => true): number {
  if (length === 0) return -1;
  if (ended && repeat === "one" && current >= 0 && current < length && playable(current)) return current;
  for (let step = 1; step <= length; step++) {
    let i = current + step;
    if (i >= length) {
      if (repeat !== "all") return -1;
      i -= length;
    }
    if (playable(i)) return i;
  }
  return -1;
}

/** The index to play before `current`, or -1: skips what cannot play; wraps only under repeat all. */
export function previousIndex(length: number, current: number, repeat: Repeat, playable: (i: number) => boolean = () => true): number {
  for (let step = 1; step <= length; step++) {
    let i = current - step;
    if (i < 0) {
      if (repeat !== "all") return -1;
      i += length;
    }
    if (playable(i)) return i;
  }
  return -1;
}

/** `items` with the one at `from` moved to index `to` (indices into the result; out-of-range clamped). */
export function moved<T>(items: readonly T[], from: number, to: number): T[] {
  const out = [...items];
  if (from < 0 || from >= out.length) return out;
  const [item] = out.splice(from, 1);
  out.splice(Math.max(0, Math.min(to, out.length)), 0, item);
  return out;
}

/** Where the playing index ends up after `moved(items, from, to)`. */
export function currentAfterMove(current: number, from: number, to: number, length: number): number {
  if (current < 0 || from < 0 || from >= length) return current;
  const dest = Math.max(0, Math.min(to, length - 1));
  if (current === from) return dest;
  if (from < current && dest >= current) return current - 1;
  if (from > current && dest <= current) return current + 1;
  return current;
}

/** Where the playing index ends up after removing `index` (-1 if the playing item itself is removed). */
export function currentAfterRemove(current: number, index: number): number {
  if (index === current) return -1;
  return index < current ? current - 1 : current;
}

/**
 * A drop's target index: a row dragged from `from` and dropped on row `over`, in its upper half
 * (`before`) or lower half. The result is the index the row takes once it has been taken out.
 */
export function dropIndex(from: number, over: number, before: boolean): number {
  const slot = before ? over : over + 1; // insertion slot in the list as it is
  return slot > from ? slot - 1 : slot;
}
