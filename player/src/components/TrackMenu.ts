// A track's (or a list's) actions in a menu: the "⋮" button or a right-click on the row opens it; the
// arrow keys move, Escape closes and gives the focus back (the WAI-ARIA menu button pattern).

import type { Track } from "../api";
import { addToQueue, playNext, playNow } from "../queue";
import { addToPlaylistDialog } from "./PlaylistPicker";
import { say } from "./Toast";
import { h } from "./dom";
import { Icon } from "./Icon";

export interface MenuItem {
  label: string;
  run: () => void;
}

export function trackActions(tracks: Track[], label: string): MenuItem[] {
  const playable = tracks.filter((t) => t.available !== false);
  const items: MenuItem[] = [
    { label: "Play now", run: () => playNow(playable) },
    { label: "Play next", run: () => (playNext(playable), say(`${label} plays next`)) },
    { label: "Add to queue", run: () => (addToQueue(playable), say(`Added ${label} to the queue`)) },
    { label: "Add to playlist…", run: () => void addToPlaylistDialog(tracks) },
  ];
  const t = tracks.length === 1 ? tracks[0] : null;
  if (t?.release_id) items.push({ label: "Go to release", run: () => (location.hash = `#/release/${t.release_id}`) });
  return items;
}

let openMenu: (() => void) | null = null;

/** The "more" button; `row` (optional) opens the same menu on a right-click. */
export function MenuButton(label: string, items: () => MenuItem[], row?: HTMLElement): HTMLElement {
  const button = h("button", { type: "button", class: "icon more", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `More for ${label}`, title: "More" }, Icon("more", 18));
  const wrap = h("span", { class: "menu-wrap" }, button);
  const open = (at?: { x: number; y: number }) => {
    openMenu?.();
    const entries = items().map((it) =>
      h("button", { type: "button", role: "menuitem", tabindex: -1, onclick: () => (close(), it.run()) }, it.label),
    );
    const menu = h("div", { class: "menu", role: "menu", "aria-label": `Actions for ${label}` }, entries);
    if (at) menu.setAttribute("style", `position:fixed;left:${Math.min(at.x, innerWidth - 200)}px;top:${Math.min(at.y, innerHeight - 220)}px`);
    const close = () => {
      menu.remove();
      button.setAttribute("aria-expanded", "false");
      document.removeEventListener("pointerdown", outside, true);
      openMenu = null;
    };
    const outside = (e: Event) => !menu.contains(e.target as Node) && e.target !== button && close();
    menu.addEventListener("keydown", (e) => {
      const i = entries.indexOf(document.activeElement as HTMLButtonElement);
      const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: entries.length - 1 }[e.key];
      if (to !== undefined) {
        e.preventDefault();
        entries[(to + entries.length) % entries.length].focus();
      } else if (e.key === "Escape" || e.key === "Tab") {
        e.preventDefault();
        close();
        button.focus();
      }
    });
    wrap.append(menu);
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("pointerdown", outside, true);
    openMenu = close;
    entries[0]?.focus();
  };
  button.addEventListener("click", () => (button.getAttribute("aria-expanded") === "true" ? openMenu?.() : open()));
  row?.addEventListener("contextmenu", (e) => {
    e.preventDefault();
    open({ x: e.clientX, y: e.clientY });
  });
  return wrap;
}
