// The screens of the main area, one function each: each asks the API for what it shows.

import { api, type Artist, type Release, type Track } from "../api";
import { CoverArt } from "./CoverArt";
import { h } from "./dom";
import { TrackList } from "./TrackList";
import { DownloadButton } from "./Offline";

function Tile(href: string, art: Release["artwork"], title: string, subtitle = ""): HTMLElement {
  return h("a", { class: "tile", href }, CoverArt(art, 160, title), h("span", { class: "tile-title" }, title),
    subtitle && h("span", { class: "tile-sub" }, subtitle));
}

const Tiles = (items: HTMLElement[], empty: string) =>
  items.length ? h("div", { class: "tiles" }, items) : h("p", { class: "empty" }, empty);

const artistTile = (a: Artist) => Tile(`#/artist/${a.id}`, a.artwork, a.name);
const releaseTile = (r: Release) => Tile(`#/release/${r.id}`, r.artwork, r.title, r.artist?.name ?? "");

export async function HomeScreen(): Promise<HTMLElement> {
  const [tracks, playlists, recent] = await Promise.all([
    api.tracks(200), api.playlists().catch(() => []), api.recent().catch(() => []),
  ]);
  const newest = [...tracks].reverse().slice(0, 12);
  const played = recent.filter((p) => p.available).map((p) => p.track);
  return h("section", { class: "screen home" },
    h("h1", { class: "visually-hidden" }, "Home"),
    played.length > 0 && h("h2", {}, "Recently played"),
    played.length > 0 && TrackList(played),
    h("h2", {}, "New tracks"),
    TrackList(newest),
    h("h2", {}, "Your playlists"),
    playlists.length
      ? h("ul", { class: "playlists" }, playlists.map((p) =>
          h("li", {}, h("a", { href: `#/playlist/${p.id}` }, p.name), h("small", {}, ` ${p.track_count} tracks`))))
      : h("p", { class: "empty" }, "No playlists yet."),
  );
}

export async function ArtistsScreen(): Promise<HTMLElement> {
  return h("section", { class: "screen" }, h("h1", {}, "Artists"), Tiles((await api.artists()).map(artistTile), "No artists yet."));
}

export async function ReleasesScreen(): Promise<HTMLElement> {
  return h("section", { class: "screen" }, h("h1", {}, "Releases"), Tiles((await api.releases()).map(releaseTile), "No releases yet."));
}

export async function TracksScreen(): Promise<HTMLElement> {
  return h("section", { class: "screen" }, h("h1", {}, "Tracks"), TrackList(await api.tracks(200)));
}

export async function ArtistScreen(id: number): Promise<HTMLElement> {
  const artist = await api.artist(id);
  return h("section", { class: "screen" },
    h("header", { class: "hero" }, CoverArt(artist.artwork, 160, artist.name), h("h1", {}, artist.name)),
    TrackList(artist.tracks));
}

export async function ReleaseScreen(id: number): Promise<HTMLElement> {
  const r = await api.release(id);
  return h("section", { class: "screen" },
    h("header", { class: "hero" }, CoverArt(r.artwork, 160, r.title),
      h("div", {}, h("h1", {}, r.title),
        r.artist && h("a", { href: `#/artist/${r.artist.id}` }, r.artist.name),
        r.release_date && h("small", {}, ` · ${r.release_date.slice(0, 4)}`),
        DownloadButton("release", r.id, r.title, () => r.tracks))),
    TrackList(r.tracks));
}

export async function PlaylistScreen(id: number): Promise<HTMLElement> {
  const page = await api.playlistTracks(id);
  const tracks = page.entries.filter((e) => e.track && e.available).map((e) => e.track as Track);
  return h("section", { class: "screen" }, h("h1", {}, page.playlist.name),
    tracks.length > 0 && DownloadButton("playlist", id, page.playlist.name, () => tracks),
    TrackList(tracks, "This playlist is empty."));
}

/** Full results for a query, grouped by kind (the server ranks each kind). */
export async function SearchScreen(q: string): Promise<HTMLElement> {
  const [tracks, artists, releases] = await Promise.all(
    (["track", "artist", "release"] as const).map((kind) => api.search(q, kind).catch(() => ({ hits: [], total: 0 }))),
  );
  const trackRows: Track[] = tracks.hits.map((t) => ({ id: t.id, title: t.title, artists: t.artists, release_id: null, duration_sec: null }));
  return h("section", { class: "screen search-results" },
    h("h1", {}, `Results for “${q}”`),
    h("h2", {}, "Tracks"), TrackList(trackRows, "No tracks match."),
    h("h2", {}, "Artists"),
    Tiles(artists.hits.map((a) => Tile(`#/artist/${a.id}`, null, a.title)), "No artists match."),
    h("h2", {}, "Releases"),
    Tiles(releases.hits.map((r) => Tile(`#/release/${r.id}`, null, r.title, r.artists.join(", "))), "No releases match."),
  );
}
