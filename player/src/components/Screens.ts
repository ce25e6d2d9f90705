// The screens of the main area, one function each: each asks the API for what it shows.

import { api, type Artist, type Favourite, type MarkKind, type Playlist, type Release, type SearchHit, type Track } from "../api";
import { loadMarks } from "../marks";
import { moved } from "../playOrder";
import { addToQueue, playTracks, shufflePlay } from "../queue";
import { update } from "../store";
import { CoverArt } from "./CoverArt";
import { clock, h } from "./dom";
import { Icon } from "./Icon";
import { FavouriteButton, StarRating } from "./Marks";
import { addToPlaylistDialog } from "./PlaylistPicker";
import { say } from "./Toast";
import { TrackList } from "./TrackList";
import { DownloadButton } from "./Offline";

function Tile(href: string, art: Release["artwork"], title: string, subtitle = "", mark?: { kind: MarkKind; id: number }): HTMLElement {
  return h("div", { class: "tile" },
    h("a", { class: "tile-link", href }, CoverArt(art, 160, ""), h("span", { class: "tile-title" }, title)),
    h("span", { class: "tile-foot" }, subtitle && h("span", { class: "tile-sub" }, subtitle),
      mark && FavouriteButton(mark.kind, mark.id, title)));
}

const Tiles = (items: HTMLElement[], empty: string, label?: string) =>
  items.length ? h("div", { class: "tiles", role: "list", "aria-label": label }, items.map((i) => (i.setAttribute("role", "listitem"), i))) : h("p", { class: "empty" }, empty);

const artistTile = (a: Artist) => Tile(`#/artist/${a.id}`, a.artwork, a.name, "Artist", { kind: "artist", id: a.id });
const releaseTile = (r: Release) =>
  Tile(`#/release/${r.id}`, r.artwork, r.title, [r.artist?.name, r.release_date?.slice(0, 4)].filter(Boolean).join(" · "), { kind: "release", id: r.id });
const playlistTile = (p: Playlist) =>
  Tile(`#/playlist/${p.id}`, null, p.name, `${p.track_count} track${p.track_count === 1 ? "" : "s"}${p.public ? " · public" : ""}`);

/** Newest first: by release date, then by id (the order they arrived). */
const newest = (rs: Release[]) =>
  [...rs].sort((a, b) => (b.release_date ?? "").localeCompare(a.release_date ?? "") || b.id - a.id);

function totalOf(tracks: Track[]): string {
  const sec = tracks.reduce((sum, t) => sum + (t.duration_sec ?? 0), 0);
  const hours = Math.floor(sec / 3600);
  return hours ? `${hours} h ${Math.round((sec % 3600) / 60)} min` : clock(sec);
}

function summary(tracks: Track[]): string {
  return `${tracks.length} track${tracks.length === 1 ? "" : "s"} · ${totalOf(tracks)}`;
}

/** Play, shuffle, add to queue, add to playlist: for a release, an artist, a playlist, favourites. */
function ListActions(tracks: Track[], label: string): HTMLElement {
  const playable = tracks.filter((t) => t.available !== false);
  const none = playable.length === 0;
  return h("div", { class: "list-actions" },
    h("button", { type: "button", class: "primary", disabled: none, "aria-label": `Play ${label}`, onclick: () => playTracks(tracks, 0, false) }, Icon("play", 18), "Play"),
    h("button", { type: "button", disabled: none, "aria-label": `Shuffle ${label}`, onclick: () => shufflePlay(tracks) }, Icon("shuffle", 18), "Shuffle"),
    h("button", { type: "button", disabled: none, "aria-label": `Add ${label} to queue`, onclick: () => (addToQueue(playable), say(`Added ${label} to the queue`)) }, Icon("add", 18), "Queue"),
    h("button", { type: "button", disabled: none, "aria-label": `Add ${label} to playlist`, onclick: () => void addToPlaylistDialog(tracks) }, Icon("add", 18), "Playlist"),
  );
}

function marked<T extends { id: number }>(kind: MarkKind, items: T[]): T[] {
  if (items.length) void loadMarks(kind, items.map((i) => i.id));
  return items;
}

export async function HomeScreen(): Promise<HTMLElement> {
  const [tracks, releases, playlists, recent] = await Promise.all([
    api.tracks(200), api.releases(200).catch(() => []), api.playlists().catch(() => []), api.recent(12).catch(() => []),
  ]);
  // Every listed track carries its cover (the track's, else its release's): nothing to look up here.
  const played = recent.map((p) => ({ ...p.track, available: p.available }));
  return h("section", { class: "screen home" },
    h("h1", { class: "visually-hidden" }, "Home"),
    played.length > 0 && h("h2", {}, "Recently played"),
    played.length > 0 && TrackList(played, { label: "Recently played" }),
    h("h2", {}, "New releases"),
    Tiles(marked("release", newest(releases).slice(0, 12)).map(releaseTile), "No releases yet.", "New releases"),
    h("div", { class: "section-head" }, h("h2", {}, "Your playlists"), h("a", { href: "#/playlists" }, "All playlists")),
    Tiles(playlists.slice(0, 12).map(playlistTile), "No playlists yet.", "Your playlists"),
    h("h2", {}, "New tracks"),
    TrackList([...tracks].reverse().slice(0, 12), { label: "New tracks" }),
  );
}

const PAGE = 100;

/** A first page, and a "Show more" button that appends the next (the API pages by `after_id`). */
async function Paged<T extends { id: number }>(
  title: string, fetch: (after: number) => Promise<T[]>, show: (items: T[], first: boolean) => HTMLElement,
): Promise<HTMLElement> {
  const first = await fetch(0);
  const more = h("button", { type: "button", class: "more-button", hidden: first.length < PAGE }, "Show more");
  let last = first.at(-1)?.id ?? 0;
  more.addEventListener("click", async () => {
    more.disabled = true;
    const page = await fetch(last).catch(() => [] as T[]);
    if (page.length) {
      last = page[page.length - 1].id;
      more.before(show(page, false));
    }
    more.disabled = false;
    more.hidden = page.length < PAGE;
  });
  return h("section", { class: "screen" }, h("h1", {}, title), show(first, true), more);
}

export function ArtistsScreen(): Promise<HTMLElement> {
  return Paged("Artists", (after) => api.artists(PAGE, after), (items, first) =>
    Tiles(marked("artist", items).map(artistTile), first ? "No artists yet." : "", "Artists"));
}

export function ReleasesScreen(): Promise<HTMLElement> {
  return Paged("Releases", (after) => api.releases(PAGE, after), (items, first) =>
    Tiles(marked("release", items).map(releaseTile), first ? "No releases yet." : "", "Releases"));
}

export function TracksScreen(): Promise<HTMLElement> {
  return Paged("Tracks", (after) => api.tracks(PAGE, after), (items, first) =>
    TrackList(items, { empty: first ? "No tracks yet." : "", label: "Tracks" }));
}

export async function ArtistScreen(id: number): Promise<HTMLElement> {
  const [artist, releases] = await Promise.all([api.artist(id), api.releases(200).catch(() => [])]);
  const theirs = marked("release", newest(releases.filter((r) => r.artist?.id === id)));
  marked("artist", [artist]);
  return h("section", { class: "screen" },
    h("header", { class: "hero" }, CoverArt(artist.artwork, 160, ""),
      h("div", { class: "hero-text" },
        h("small", { class: "kind" }, "Artist"), h("h1", {}, artist.name),
        h("p", { class: "meta" }, summary(artist.tracks)),
        h("div", { class: "marks" }, FavouriteButton("artist", id, artist.name), StarRating("artist", id, artist.name)),
        ListActions(artist.tracks, artist.name))),
    theirs.length > 0 && h("h2", {}, "Releases"),
    theirs.length > 0 && Tiles(theirs.map(releaseTile), "", "Releases"),
    h("h2", {}, "Tracks"),
    TrackList(artist.tracks, { label: `Tracks by ${artist.name}` }));
}

export async function ReleaseScreen(id: number): Promise<HTMLElement> {
  const r = await api.release(id);
  const tracks = [...r.tracks].sort((a, b) => (a.track_number ?? 1e9) - (b.track_number ?? 1e9) || a.id - b.id);
  marked("release", [r]);
  return h("section", { class: "screen" },
    h("header", { class: "hero" }, CoverArt(r.artwork, 200, `Cover of ${r.title}`),
      h("div", { class: "hero-text" },
        h("small", { class: "kind" }, "Release"), h("h1", {}, r.title),
        h("p", { class: "meta" },
          r.artist && h("a", { href: `#/artist/${r.artist.id}` }, r.artist.name),
          r.release_date && ` · ${r.release_date.slice(0, 4)}`,
          h("span", { class: "total" }, ` · ${summary(tracks)}`)),
        h("div", { class: "marks" }, FavouriteButton("release", id, r.title), StarRating("release", id, r.title)),
        ListActions(tracks, r.title),
        DownloadButton("release", r.id, r.title, () => r.tracks))),
    TrackList(tracks, { numbered: true, label: `Tracks of ${r.title}` }));
}

export async function PlaylistsScreen(): Promise<HTMLElement> {
  const playlists = await api.playlists();
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 200, "aria-label": "Playlist name", placeholder: "Name" });
  const description = h("input", { type: "text", name: "description", maxlength: 2000, "aria-label": "Description", placeholder: "Description (optional)" });
  const isPublic = h("input", { type: "checkbox", name: "public", id: "new-public" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "new-playlist", "aria-label": "New playlist" },
    name, description, h("label", { for: "new-public", class: "check" }, isPublic, "Public"),
    h("button", { type: "submit", class: "primary" }, "Create playlist"), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const p = await api.createPlaylist(name.value.trim(), description.value, isPublic.checked);
      say(`Created ${p.name}`);
      location.hash = `#/playlist/${p.id}`;
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  });
  return h("section", { class: "screen" }, h("h1", {}, "Playlists"), form,
    Tiles(playlists.map(playlistTile), "No playlists yet.", "Your playlists"));
}

export async function PlaylistScreen(id: number): Promise<HTMLElement> {
  const page = await api.playlistTracks(id);
  let p = page.playlist;
  const entries = page.entries.filter((e) => e.track);
  const tracks = entries.map((e) => ({ ...(e.track as Track), available: e.available }));
  const gone = page.entries.length - entries.length;
  const reload = () => update({ route: { name: "playlist", id } });

  const title = h("h1", {}, p.name);
  const about = h("p", { class: "description" }, p.description ?? "");
  const badge = h("span", { class: "badge" }, p.public ? "Public" : "Private");
  const editor = PlaylistEditor(p, (changed) => {
    p = changed;
    title.textContent = p.name;
    about.textContent = p.description ?? "";
    badge.textContent = p.public ? "Public" : "Private";
    list.setAttribute("aria-label", `Tracks of ${p.name}`);
  });
  const remove = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!confirm(`Delete the playlist “${p.name}”?`)) return;
    await api.deletePlaylist(id);
    say(`Deleted ${p.name}`);
    location.hash = "#/playlists";
  } }, "Delete");

  let order = [...entries];
  const list = TrackList(tracks, {
    empty: "This playlist is empty: add tracks from any list with “Add to playlist…”.",
    label: `Tracks of ${p.name}`,
    reorder: async (from, to) => {
      const entry = order[from];
      order = moved(order, from, to);
      await api.movePlaylistEntry(id, entry.entry_id, to);
    },
    extra: (t, i) => [{
      label: "Remove from playlist",
      run: async () => {
        const entry = order[i];
        if (!entry) return;
        await api.removeFromPlaylist(id, entry.entry_id);
        say(`Removed ${t.title} from ${p.name}`);
        reload();
      },
    }],
  });
  return h("section", { class: "screen playlist" },
    h("header", { class: "hero" }, h("div", { class: "cover cover-empty", style: "width:160px;height:160px", "aria-hidden": "true" }, "♪"),
      h("div", { class: "hero-text" },
        h("small", { class: "kind" }, "Playlist ", badge), title, about,
        h("p", { class: "meta" }, summary(tracks), gone ? ` · ${gone} removed from the catalog` : ""),
        ListActions(tracks, p.name),
        h("div", { class: "list-actions" }, editor.toggle, remove,
          tracks.some((t) => t.available !== false) && DownloadButton("playlist", id, p.name, () => tracks.filter((t) => t.available !== false))))),
    editor.form,
    list);
}

/** Rename, describe, publish: an inline form behind an "Edit" button. */
function PlaylistEditor(p: Playlist, changed: (p: Playlist) => void): { toggle: HTMLElement; form: HTMLElement } {
  const name = h("input", { type: "text", required: true, maxlength: 200, value: p.name, "aria-label": "Playlist name" });
  const description = h("textarea", { maxlength: 2000, rows: 2, "aria-label": "Description" }, p.description ?? "");
  const isPublic = h("input", { type: "checkbox", id: "edit-public", checked: p.public ?? false });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "edit-playlist", "aria-label": "Edit playlist", hidden: true },
    name, description, h("label", { for: "edit-public", class: "check" }, isPublic, "Public"),
    h("button", { type: "submit", class: "primary" }, "Save"), error);
  const toggle = h("button", { type: "button", "aria-expanded": "false", onclick: () => {
    form.hidden = !form.hidden;
    toggle.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) name.focus();
  } }, "Edit");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const saved = await api.updatePlaylist(p.id, { name: name.value.trim(), description: description.value, public: isPublic.checked });
      changed(saved);
      form.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      say(`Saved ${saved.name}`);
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  });
  return { toggle, form };
}

export async function FavouritesScreen(): Promise<HTMLElement> {
  // Each favourite carries its artwork (a track's or release's cover, an artist's latest release's).
  const [tracks, releases, artists] = await Promise.all([
    api.favourites("track"), api.favourites("release"), api.favourites("artist"),
  ]);
  const asTrack = (f: Favourite): Track => ({ id: f.id, title: f.title, artists: f.artists, release_id: null, duration_sec: null, artwork: f.artwork, available: f.available ?? undefined });
  const starredTracks = tracks.items.map(asTrack);
  return h("section", { class: "screen favourites" }, h("h1", {}, "Favourites"),
    h("h2", {}, "Tracks"),
    starredTracks.length > 0 && ListActions(starredTracks, "favourite tracks"),
    TrackList(starredTracks, { empty: "No favourite tracks yet: tap a heart.", label: "Favourite tracks" }),
    h("h2", {}, "Releases"),
    Tiles(marked("release", releases.items).map((f) =>
      Tile(`#/release/${f.id}`, f.artwork, f.title, f.artists.join(", "), { kind: "release", id: f.id })),
    "No favourite releases yet.", "Favourite releases"),
    h("h2", {}, "Artists"),
    Tiles(marked("artist", artists.items).map((f) =>
      Tile(`#/artist/${f.id}`, f.artwork, f.title, "Artist", { kind: "artist", id: f.id })), "No favourite artists yet.", "Favourite artists"),
  );
}

/** Full results for a query, grouped by kind (the server ranks each kind), with their covers. */
export async function SearchScreen(q: string): Promise<HTMLElement> {
  const [tracks, artists, releases] = await Promise.all(
    (["track", "artist", "release"] as const).map((kind) => api.search(q, kind).catch(() => ({ hits: [] as SearchHit[], total: 0 }))),
  );
  const trackRows: Track[] = tracks.hits.map((t) => ({ id: t.id, title: t.title, artists: t.artists, release_id: null, duration_sec: null, artwork: t.artwork }));
  return h("section", { class: "screen search-results" },
    h("h1", {}, `Results for “${q}”`),
    h("h2", {}, "Tracks"), TrackList(trackRows, { empty: "No tracks match.", label: "Matching tracks" }),
    h("h2", {}, "Releases"),
    Tiles(marked("release", releases.hits).map((r) => Tile(`#/release/${r.id}`, r.artwork ?? null, r.title, r.artists.join(", "), { kind: "release", id: r.id })), "No releases match.", "Matching releases"),
    h("h2", {}, "Artists"),
    Tiles(marked("artist", artists.hits).map((a) => Tile(`#/artist/${a.id}`, a.artwork ?? null, a.title, "Artist", { kind: "artist", id: a.id })), "No artists match.", "Matching artists"),
  );
}
