import type { Track } from "../api";
import { addToQueue, playNext, playTracks } from "../queue";
import { currentTrack, getState } from "../store";
import { CoverArt } from "./CoverArt";
import { clock, h } from "./dom";
import { Icon } from "./Icon";
import { DownloadButton } from "./Offline";

/** Tracks as rows: click a title to play from there; "play next" and "add to queue" per row. */
export function TrackList(tracks: Track[], empty = "No tracks yet."): HTMLElement {
  if (!tracks.length) return h("p", { class: "empty" }, empty);
  const playing = currentTrack(getState());
  return h(
    "ol",
    { class: "track-list" },
    tracks.map((t, i) =>
      h(
        "li",
        { class: playing?.id === t.id ? "track playing" : "track", "data-track-id": t.id },
        CoverArt(t.artwork, 40, ""),
        h(
          "button",
          { class: "track-title link", "aria-label": `Play ${t.title}`, onclick: () => playTracks(tracks, i) },
          h("span", { class: "title" }, t.title),
          h("span", { class: "artists" }, t.artists.join(", ")),
        ),
        h("span", { class: "duration" }, t.duration_sec ? clock(t.duration_sec) : ""),
        h("button", { class: "icon", title: "Play next", "aria-label": `Play ${t.title} next`, onclick: () => playNext(t) }, Icon("playNext")),
        h("button", { class: "icon", title: "Add to queue", "aria-label": `Add ${t.title} to queue`, onclick: () => addToQueue(t) }, Icon("add")),
        DownloadButton("track", t.id, t.title, () => [t]),
      ),
    ),
  );
}
