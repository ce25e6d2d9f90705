// "Add to playlist": a modal dialog listing the listener's playlists as checkboxes (one or many at once)
// and a field for a new one; the tracks (one, a release's, a selection) go to each chosen playlist.

import { api, type Track } from "../api";
import { getState } from "../store";
import { say } from "./Toast";
import { h } from "./dom";

export async function addToPlaylistDialog(tracks: Track[]): Promise<void> {
  const ids = tracks.filter((t) => t.available !== false).map((t) => t.id);
  if (!ids.length) return say("Nothing here can be added.");
  const me = getState().user?.id;
  const mine = (await api.playlists().catch(() => [])).filter((p) => p.owner_id === undefined || p.owner_id === me);
  const what = tracks.length === 1 ? `“${tracks[0].title}”` : `${ids.length} tracks`;
  const boxes = mine.map((p) => h("input", { type: "checkbox", value: p.id, id: `pick-${p.id}` }));
  const fresh = h("input", { type: "text", name: "new-playlist", "aria-label": "New playlist name", placeholder: "New playlist", maxlength: 200 });
  const error = h("p", { class: "error", role: "alert" });
  const add = h("button", { type: "submit", class: "primary" }, "Add");
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h("form", { method: "dialog", class: "picker" },
    h("h2", { id: "picker-title" }, `Add ${what} to playlist`),
    mine.length
      ? h("fieldset", {}, h("legend", { class: "visually-hidden" }, "Your playlists"),
          mine.map((p, i) => h("label", { class: "pick", for: `pick-${p.id}` }, boxes[i], p.name, h("small", {}, ` ${p.track_count} tracks`))))
      : h("p", { class: "empty" }, "No playlists yet: name a new one."),
    fresh, error,
    h("div", { class: "actions" }, cancel, add),
  );
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": "picker-title" }, form);
  document.body.append(dialog);
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", () => dialog.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = mine.filter((_, i) => boxes[i].checked);
    const name = fresh.value.trim();
    if (!chosen.length && !name) return void (error.textContent = "Choose a playlist or name a new one.");
    add.disabled = true;
    try {
      if (name) chosen.push(await api.createPlaylist(name));
      for (const p of chosen) await api.addToPlaylist(p.id, ids);
      close();
      say(`Added ${what} to ${chosen.map((p) => p.name).join(", ")}`);
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      add.disabled = false;
    }
  });
  dialog.showModal();
  (boxes[0] ?? fresh).focus();
}
