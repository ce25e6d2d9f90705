// Drag-to-reorder for a list's rows, and the keyboard's way to do the same (move up / move down
// buttons on each row, Alt+↑/↓ on a focused row). The arithmetic is playOrder.dropIndex (unit-tested).

import { dropIndex } from "../playOrder";

/** Make the `li` children of `list` draggable; `onMove(from, to)` gets the index the row takes. */
export function dragToReorder(list: HTMLElement, onMove: (from: number, to: number) => void): void {
  let from = -1;
  const rows = () => [...list.children] as HTMLElement[];
  const clear = () => rows().forEach((r) => r.classList.remove("drop-before", "drop-after", "dragging"));
  list.addEventListener("dragstart", (e) => {
    const row = (e.target as HTMLElement).closest("li");
    if (!row || row.parentElement !== list) return;
    from = rows().indexOf(row);
    row.classList.add("dragging");
    e.dataTransfer?.setData("text/plain", String(from));
    if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
  });
  const target = (e: DragEvent) => {
    const row = (e.target as HTMLElement).closest("li");
    if (!row || row.parentElement !== list) return null;
    const box = row.getBoundingClientRect();
    return { over: rows().indexOf(row), before: e.clientY < box.top + box.height / 2, row };
  };
  list.addEventListener("dragover", (e) => {
    const t = target(e);
    if (from < 0 || !t) return;
    e.preventDefault();
    rows().forEach((r) => r.classList.remove("drop-before", "drop-after"));
    t.row.classList.add(t.before ? "drop-before" : "drop-after");
  });
  list.addEventListener("drop", (e) => {
    const t = target(e);
    e.preventDefault();
    clear();
    if (from < 0 || !t) return;
    const to = dropIndex(from, t.over, t.before);
    const was = from;
    from = -1;
    if (to !== was) onMove(was, to);
  });
  list.addEventListener("dragend", () => {
    from = -1;
    clear();
  });
  list.addEventListener("keydown", (e) => {
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    const row = (e.target as HTMLElement).closest("li");
    if (!row || row.parentElement !== list) return;
    const i = rows().indexOf(row);
    const to = e.key === "ArrowUp" ? i - 1 : i + 1;
    if (to < 0 || to >= rows().length) return;
    e.preventDefault();
    onMove(i, to);
  });
}
