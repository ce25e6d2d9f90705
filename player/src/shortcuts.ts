// Keyboard shortcuts for the whole app, listed once here: the handler and the help dialog
// (components/ShortcutsDialog.ts) both read `SHORTCUTS`, so the list cannot drift from what the keys do.

import { player } from "./playback";
import { next, previous } from "./queue";
import { getState, update } from "./store";

export interface Shortcut {
  keys: string[]; // KeyboardEvent.key values
  label: string[]; // as the help shows them
  does: string;
  run: () => void;
}

const seekBy = (s: number) => () => player.seek(getState().position + s);
const volumeBy = (v: number) => () => {
  player.audio.muted = false;
  player.setVolume(getState().volume + v);
};

export const SHORTCUTS: Shortcut[] = [
  { keys: [" "], label: ["Space"], does: "Play or pause", run: () => player.toggle() },
  { keys: ["ArrowRight"], label: ["→"], does: "Forward 5 seconds", run: seekBy(5) },
  { keys: ["ArrowLeft"], label: ["←"], does: "Back 5 seconds", run: seekBy(-5) },
  { keys: ["l", "L"], label: ["L"], does: "Forward 30 seconds", run: seekBy(30) },
  { keys: ["h", "H"], label: ["H"], does: "Back 30 seconds", run: seekBy(-30) },
  { keys: ["j", "J"], label: ["J"], does: "Next track", run: () => next() },
  { keys: ["k", "K"], label: ["K"], does: "Previous track (or back to the start)", run: () => previous() },
  { keys: ["ArrowUp"], label: ["↑"], does: "Volume up", run: volumeBy(0.1) },
  { keys: ["ArrowDown"], label: ["↓"], does: "Volume down", run: volumeBy(-0.1) },
  { keys: ["m", "M"], label: ["M"], does: "Mute or unmute", run: () => (player.audio.muted = !player.audio.muted) },
  { keys: ["q", "Q"], label: ["Q"], does: "Show or hide the queue", run: () => update({ queueOpen: !getState().queueOpen }) },
  { keys: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], label: ["0", "…", "9"], does: "Jump to 0 % … 90 % of the track",
    run: () => {} },
  { keys: ["?"], label: ["?"], does: "Show this list", run: () => update({ shortcutsOpen: true }) },
];

/** A modal dialog is open (this help, "Add to playlist"): the keyboard is its. Asked of the document, not
 * the store: a dialog the browser closes is closed at once, but its `close` event (which tells the store)
 * comes later (Chromium fires it with the next animation frame). */
function dialogOpen(): boolean {
  return document.querySelector("dialog[open]") !== null;
}

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable);
}

export function installShortcuts(): void {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !getState().user || typing(e.target)) return;
    // Space on a focused button presses that button (not one left focused in a dialog just closed).
    const target = e.target as HTMLElement;
    if (e.key === " " && target.tagName === "BUTTON" && !target.closest("dialog:not([open])")) return;
    if (dialogOpen()) return;
    if (/^[0-9]$/.test(e.key)) {
      e.preventDefault();
      return player.seek((getState().duration * Number(e.key)) / 10);
    }
    const shortcut = SHORTCUTS.find((s) => s.keys.includes(e.key));
    if (!shortcut) return;
    e.preventDefault();
    shortcut.run();
  });
}
