import { describe, expect, it } from "vitest";
import {
  currentAfterMove, currentAfterRemove, dropIndex, moved, nextIndex, nextRepeat, previousIndex, seededRandom,
  shuffled, shuffleQueue, unshuffleQueue,
} from "../src/playOrder";

const letters = ["a", "b", "c", "d", "e", "f", "g", "h"];

describe("shuffle", () => {
  it("is the same order for the same seed, and another for another seed", () => {
    const one = shuffled(letters, seededRandom(42));
    expect(shuffled(letters, seededRandom(42))).toEqual(one);
    expect(shuffled(letters, seededRandom(43))).not.toEqual(one);
    expect([...one].sort()).toEqual(letters); // a permutation: nothing lost or doubled
  });

  it("is fair: each item lands in each place about equally often", () => {
    const random = seededRandom(7);
    const counts = letters.map(() => letters.map(() => 0));
    const rounds = 16_000;
    for (let r = 0; r < rounds; r++) shuffled(letters, random).forEach((x, place) => counts[letters.indexOf(x)][place]++);
    const expected = rounds / letters.length;
    for (const row of counts) for (const n of row) expect(Math.abs(n - expected) / expected).toBeLessThan(0.1);
  });

  it("keeps the track playing first and playing; unshuffle puts it back where it was", () => {
    const s = shuffleQueue(letters, 3, seededRandom(1));
    expect(s.current).toBe(0);
    expect(s.queue[0]).toBe("d");
    expect([...s.queue].sort()).toEqual(letters);
    const back = unshuffleQueue(s.queue, 5, letters); // playing moved on to queue[5] meanwhile
    expect(back.queue).toEqual(letters);
    expect(back.current).toBe(letters.indexOf(s.queue[5]));
  });

  it("unshuffle keeps what was removed out and what was added at the end", () => {
    const a = { t: "a" }, b = { t: "b" }, c = { t: "c" }, added = { t: "x" };
    const back = unshuffleQueue([c, added, a], 0, [a, b, c]);
    expect(back.queue).toEqual([a, c, added]);
    expect(back.current).toBe(1); // c still playing
  });

  it("unshuffle tells apart two occurrences of the same track", () => {
    const a = { t: "a" }, b = { t: "b" };
    const back = unshuffleQueue([a, b, a], 2, [a, a, b]); // playing the second "a"
    expect(back.queue).toEqual([a, a, b]);
    expect(back.current).toBe(1);
  });
});

describe("next and previous", () => {
  it("stops at the end with repeat off, wraps with repeat all", () => {
    expect(nextIndex(3, 1, "off", true)).toBe(2);
    expect(nextIndex(3, 2, "off", true)).toBe(-1);
    expect(nextIndex(3, 2, "all", true)).toBe(0);
    expect(nextIndex(0, -1, "all", true)).toBe(-1);
  });

  it("repeat one plays the track again when it ends, and moves on when the listener presses next", () => {
    expect(nextIndex(3, 1, "one", true)).toBe(1);
    expect(nextIndex(3, 1, "one", false)).toBe(2);
    expect(nextIndex(3, 2, "one", false)).toBe(-1);
  });

  it("skips tracks that cannot be played, and gives up when none can", () => {
    const playable = (i: number) => i !== 1 && i !== 2;
    expect(nextIndex(5, 0, "off", true, playable)).toBe(3);
    expect(nextIndex(3, 0, "off", true, playable)).toBe(-1);
    expect(nextIndex(3, 0, "all", true, playable)).toBe(0);
    expect(nextIndex(3, 0, "all", true, () => false)).toBe(-1);
    expect(previousIndex(5, 3, "off", playable)).toBe(0);
    expect(previousIndex(5, 0, "off")).toBe(-1);
    expect(previousIndex(5, 0, "all", playable)).toBe(4);
  });

  it("cycles the repeat button off, all, one", () => {
    expect([nextRepeat("off"), nextRepeat("all"), nextRepeat("one")]).toEqual(["all", "one", "off"]);
  });
});

describe("reorder arithmetic", () => {
  it("moves an item and follows the playing one", () => {
    expect(moved(letters.slice(0, 4), 0, 2)).toEqual(["b", "c", "a", "d"]);
    expect(moved(letters.slice(0, 4), 3, 0)).toEqual(["d", "a", "b", "c"]);
    expect(moved(letters.slice(0, 4), 1, 99)).toEqual(["a", "c", "d", "b"]);
    // For every move in a list of 5, the index follows the item that was playing.
    const list = letters.slice(0, 5);
    for (let from = 0; from < 5; from++)
      for (let to = 0; to < 5; to++)
        for (let current = 0; current < 5; current++) {
          const after = moved(list, from, to);
          expect(after[currentAfterMove(current, from, to, 5)]).toBe(list[current]);
        }
  });

  it("turns a drop on a row's upper or lower half into the index the row takes", () => {
    // Dragging "a" (0) below "c" (2): a lands at index 2. Dragging "d" (3) above "b" (1): index 1.
    expect(moved(letters.slice(0, 4), 0, dropIndex(0, 2, false))).toEqual(["b", "c", "a", "d"]);
    expect(moved(letters.slice(0, 4), 3, dropIndex(3, 1, true))).toEqual(["a", "d", "b", "c"]);
    expect(dropIndex(2, 2, true)).toBe(2); // dropped on itself: no move
    expect(dropIndex(2, 2, false)).toBe(2);
  });

  it("removing a row before the playing one shifts it; removing the playing one says so", () => {
    expect(currentAfterRemove(3, 1)).toBe(2);
    expect(currentAfterRemove(3, 4)).toBe(3);
    expect(currentAfterRemove(3, 3)).toBe(-1);
  });
});
