// The listener's hearts and stars as the screens show them: read from the server a screen at a time
// (GET /api/me/marks/{kind}), changed through it, and repainted on every element that shows the item
// (a track's heart in a list and in the queue at once). The server decides; this only remembers.

import { api, type MarkKind, type Marks } from "./api";

type Paint = (m: Marks) => void;
const known = new Map<string, Marks>();
const painters = new WeakMap<Element, Paint>();
const key = (kind: MarkKind, id: number) => `${kind}:${id}`;

function repaint(kind: MarkKind, m: Marks): void {
  known.set(key(kind, m.id), m);
  for (const el of document.querySelectorAll(`[data-mark="${key(kind, m.id)}"]`)) painters.get(el)?.(m);
}

/** Register `el` as showing the marks of (kind, id): painted now if known, and after each change. */
export function showsMarks(el: HTMLElement, kind: MarkKind, id: number, paint: Paint): void {
  el.dataset.mark = key(kind, id);
  painters.set(el, paint);
  paint(known.get(key(kind, id)) ?? { id, starred: false, rating: null });
}

/** Ask the server for the marks of the items a screen shows (up to 500 at a time), then paint them. */
export async function loadMarks(kind: MarkKind, ids: number[]): Promise<void> {
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const got = await api.marks(kind, unique.slice(i, i + 500)).catch(() => []);
    for (const m of got) repaint(kind, m);
  }
}

/** Writes to one item go one after another, so the server ends with the last one the listener chose
 * (three quick presses of → must not land as 4, 2, 3). */
const writing = new Map<string, Promise<unknown>>();
function inOrder<T>(kind: MarkKind, id: number, write: () => Promise<T>): Promise<T> {
  const k = key(kind, id);
  const done = (writing.get(k) ?? Promise.resolve()).catch(() => {}).then(write);
  writing.set(k, done);
  void done.finally(() => writing.get(k) === done && writing.delete(k)).catch(() => {});
  return done;
}

export function marksOf(kind: MarkKind, id: number): Marks {
  return known.get(key(kind, id)) ?? { id, starred: false, rating: null };
}

export async function setStarred(kind: MarkKind, id: number, starred: boolean): Promise<void> {
  const before = marksOf(kind, id);
  repaint(kind, { ...before, starred });
  try {
    await inOrder(kind, id, () => (starred ? api.star(kind, id) : api.unstar(kind, id)));
  } catch (e) {
    repaint(kind, before);
    throw e;
  }
}

/** 1-5 stars; 0 clears the rating. */
export async function setRating(kind: MarkKind, id: number, rating: number): Promise<void> {
  const before = marksOf(kind, id);
  repaint(kind, { ...before, rating: rating || null });
  try {
    await inOrder(kind, id, () => api.rate(kind, id, rating));
  } catch (e) {
    repaint(kind, before);
    throw e;
  }
}
