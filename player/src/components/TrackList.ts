import type { Track } from "../api";
import { loadMarks } from "../marks";
import { addToQueue, playNext, playTracks } from "../queue";
import { currentTrack, getState } from "../store";
import { CoverArt } from "./CoverArt";
import { clock, h } from "./dom";
import { Icon } from "./Icon";
import { DownloadButton } from "./Offline";
import { FavouriteButton, StarRating } from "./Marks";
import { dragToReorder } from "./Reorder";
import { MenuButton, trackActions, type MenuItem } from "./TrackMenu";

export interface TrackListOptions {
  empty?: string;
  /** The release's own numbering instead of covers. */
  numbered?: boolean;
  /** More menu entries for a row (a playlist's "Remove from playlist"). */
  extra?: (t: Track, i: number) => MenuItem[];
  /** Rows can be dragged, or moved with buttons and Alt+↑/↓; called with the new order's indices. */
  reorder?: (from: number, to: number) => Promise<void> | void;
  label?: string;
}

/**
 * Tracks as rows: click a title to play from there (the list becomes the queue); per row a heart, a
 * rating, the length, "play next", "add to queue" and a menu (play now, add to playlist, go to release).
 * Tracks the server says cannot be played here are greyed and say so, and the queue skips them.
 */
export function TrackList(tracks: Track[], options: TrackListOptions | string = {}): HTMLElement {
  const o: TrackListOptions = typeof options === "string" ? { empty: options } : options;
  if (!tracks.length) return h("p", { class: "empty" }, o.empty ?? "No tracks yet.");
  let rows = [...tracks];
  const list = h("ol", { class: o.reorder ? "track-list reorderable" : "track-list", "aria-label": o.label ?? "Tracks" });

  const move = async (from: number, to: number, focus = ".track-title") => {
    const before = rows;
    const next = [...rows];
    const [item] = next.splice(from, 1);
    next.splice(to, 0, item);
    rows = next;
    render(to, focus);
    try {
      await o.reorder?.(from, to);
    } catch {
      rows = before;
      render(from, focus);
    }
  };

  function row(t: Track, i: number): HTMLElement {
    const unavailable = t.available === false;
    const playing = currentTrack(getState())?.id === t.id;
    const li = h("li", {
      class: ["track", playing ? "playing" : "", unavailable ? "unavailable" : ""].join(" ").trim(),
      "data-track-id": t.id,
      draggable: o.reorder ? "true" : undefined,
    });
    const lead = o.numbered
      ? h("span", { class: "number", "aria-hidden": "true" }, String(t.track_number ?? i + 1))
      : CoverArt(t.artwork, 40, "");
    // The button's text is the title alone, so its name ("Play <title>") contains what it shows.
    const title = h(
      "span",
      { class: "track-main" },
      h(
        "button",
        {
          type: "button",
          class: "track-title link",
          "aria-label": unavailable ? `${t.title}, unavailable` : `Play ${t.title}`,
          "aria-disabled": unavailable ? "true" : undefined,
          onclick: () => !unavailable && playTracks(rows, i),
        },
        h("span", { class: "title" }, t.title),
      ),
      h("span", { class: "artists" }, unavailable ? `${t.artists.join(", ")} · unavailable` : t.artists.join(", ")),
    );
    li.append(
      o.reorder ? h("span", { class: "grip", "aria-hidden": "true" }, Icon("drag", 16)) : "",
      lead,
      title,
      FavouriteButton("track", t.id, t.title),
      StarRating("track", t.id, t.title),
      h("span", { class: "duration" }, t.duration_sec ? clock(t.duration_sec) : ""),
    );
    if (o.reorder) {
      li.append(
        h("button", { type: "button", class: "icon move-up", "aria-label": `Move ${t.title} up`, disabled: i === 0, onclick: () => move(i, i - 1, i - 1 === 0 ? ".move-down" : ".move-up") }, Icon("up", 18)),
        h("button", { type: "button", class: "icon move-down", "aria-label": `Move ${t.title} down`, disabled: i === rows.length - 1, onclick: () => move(i, i + 1, i + 1 === rows.length - 1 ? ".move-up" : ".move-down") }, Icon("down", 18)),
      );
    }
    li.append(
      h("button", { type: "button", class: "icon", title: "Play next", "aria-label": `Play ${t.title} next`, disabled: unavailable, onclick: () => playNext(t) }, Icon("playNext")),
      h("button", { type: "button", class: "icon", title: "Add to queue", "aria-label": `Add ${t.title} to queue`, disabled: unavailable, onclick: () => addToQueue(t) }, Icon("add")),
      MenuButton(t.title, () => [...(unavailable ? [] : trackActions([t], t.title)), ...(o.extra?.(t, i) ?? [])], li),
      unavailable ? "" : DownloadButton("track", t.id, t.title, () => [t]),
    );
    return li;
  }

  function render(focusRow = -1, focus = ".track-title") {
    list.replaceChildren(...rows.map(row));
    if (focusRow >= 0) list.children[focusRow]?.querySelector<HTMLElement>(focus)?.focus();
  }
  render();
  if (o.reorder) dragToReorder(list, (from, to) => void move(from, to, document.activeElement?.closest("li") ? ".track-title" : ".grip"));
  void loadMarks("track", tracks.map((t) => t.id));
  return list;
}
