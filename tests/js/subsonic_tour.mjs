// What a new user's Subsonic app does, through the `subsonic-api` npm package (3.3.x) only: no hand-written
// HTTP. Driven by tests/integration/test_subsonic_node_client.py; prints one JSON object of what it saw.
//
//   node subsonic_tour.mjs --url=URL (--user=U --password=P | --api-key=K) [--post] [--out=FILE]
//                          [--playlist=NAME] [--page-size=N]
// (write --name=value: a key or password may start with "-", which parseArgs refuses as a separate value)
//
// Defaults from the environment: SUBSONIC_URL, SUBSONIC_USER, SUBSONIC_PASSWORD, SUBSONIC_API_KEY.
//
// Sign-in: with --user/--password the library sends u + t=md5(password + salt) + s (a fresh salt per request);
// with --api-key it sends the OpenSubsonic `apiKey` (its config's `auth: { apiKey }`) and no `u`. --post sends
// every call as an application/x-www-form-urlencoded POST (the library's `post: true`, OpenSubsonic formPost).
//
// The library resolves a Subsonic error (status "failed") as an ordinary answer, and `stream` resolves to
// the fetch Response whatever it holds: both are checked here, as an app must.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

import { SubsonicAPI } from "subsonic-api";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string", default: process.env.SUBSONIC_URL },
    user: { type: "string", default: process.env.SUBSONIC_USER },
    password: { type: "string", default: process.env.SUBSONIC_PASSWORD },
    "api-key": { type: "string", default: process.env.SUBSONIC_API_KEY },
    post: { type: "boolean", default: false },
    out: { type: "string" },
    playlist: { type: "string", default: "Node tour" },
    "page-size": { type: "string", default: "500" },
  },
});
if (!opt.url || !(opt["api-key"] || (opt.user && opt.password))) {
  console.error("usage: subsonic_tour.mjs --url=URL (--user=U --password=P | --api-key=K) [--post] [--out=FILE]");
  process.exit(2);
}
const auth = opt["api-key"] ? { apiKey: opt["api-key"] } : { username: opt.user, password: opt.password };
const api = new SubsonicAPI({ url: opt.url, auth, post: opt.post });
const pageSize = Number(opt["page-size"]);

const seen = { auth: opt["api-key"] ? "apiKey" : "token+salt", post: opt.post, errors: [] };

// One library call; a failed answer is recorded (method, code, message) and returns null.
async function call(method, args) {
  const res = args === undefined ? await api[method]() : await api[method](args);
  if (res?.status !== "ok") {
    seen.errors.push({ method, code: res?.error?.code ?? null, message: res?.error?.message ?? String(res) });
    return null;
  }
  return res;
}

const titles = (songs) => (songs ?? []).map((s) => s.title);

// --- sign in: what an app checks before anything else -------------------------------------------------
const ping = await api.ping();
seen.ping = { status: ping.status, version: ping.version, type: ping.type, openSubsonic: ping.openSubsonic };
if (ping.status !== "ok") {
  seen.ping.error = ping.error; // the app shows "wrong username or password" and stops here
  console.log(JSON.stringify(seen));
  process.exit(0);
}
seen.license = (await call("getLicense"))?.license?.valid ?? null;
seen.extensions = ((await call("getOpenSubsonicExtensions"))?.openSubsonicExtensions ?? []).map((e) => e.name);
// With an API key the app does not know the username: it asks the server whose key it is (OpenSubsonic
// `tokenInfo`, which the library has no method for: its `customJSON` sends it with the same auth).
let username = opt.user;
if (opt["api-key"]) {
  const info = await api.customJSON("tokenInfo.view", {});
  seen.tokenInfo = info?.tokenInfo ?? info?.error ?? null;
  username = info?.tokenInfo?.username;
}
const user = (await call("getUser", { username }))?.user;
seen.user = user ? { username: user.username, streamRole: user.streamRole } : null;

// --- browse ------------------------------------------------------------------------------------------------
const artists = (await call("getArtists"))?.artists;
seen.artists = (artists?.index ?? []).flatMap((i) => i.artist ?? []).map((a) => ({ id: a.id, name: a.name }));
seen.albumLists = {};
for (const [type, extra] of [
  ["newest", {}],
  ["alphabeticalByName", {}],
  ["random", {}],
  ["byYear", { fromYear: 2020, toYear: 2030 }],
  ["byGenre", { genre: "Ambient" }],
]) {
  const list = await call("getAlbumList2", { type, size: 50, ...extra });
  seen.albumLists[type] = (list?.albumList2?.album ?? []).map((a) => a.name);
}
const firstAlbum = (await call("getAlbumList2", { type: "alphabeticalByName", size: 1 }))?.albumList2?.album?.[0];
const album = firstAlbum ? (await call("getAlbum", { id: firstAlbum.id }))?.album : null;
seen.album = album
  ? {
      id: album.id,
      name: album.name,
      artist: album.artist,
      songCount: album.songCount,
      duration: album.duration,
      created: album.created instanceof Date && !Number.isNaN(album.created.getTime()), // the library revives it
      songs: (album.song ?? []).map((s) => ({ id: s.id, title: s.title, track: s.track, duration: s.duration })),
    }
  : null;
const songIds = (album?.song ?? []).map((s) => s.id);
const song = songIds.length ? (await call("getSong", { id: songIds[0] }))?.song : null;
seen.song = song ? { id: song.id, title: song.title, album: song.album, albumId: song.albumId } : null;

// --- a full sync: search3 with an empty query, each kind paged by its offset until a short page ----------
const synced = { song: [], album: [], artist: [] };
const offsets = { song: 0, album: 0, artist: 0 };
const done = { song: false, album: false, artist: false };
seen.syncPages = 0;
while (!(done.song && done.album && done.artist) && seen.syncPages < 1000) {
  const page = await call("search3", {
    query: "",
    songCount: done.song ? 0 : pageSize,
    songOffset: offsets.song,
    albumCount: done.album ? 0 : pageSize,
    albumOffset: offsets.album,
    artistCount: done.artist ? 0 : pageSize,
    artistOffset: offsets.artist,
  });
  if (!page) break;
  seen.syncPages += 1;
  for (const kind of ["song", "album", "artist"]) {
    if (done[kind]) continue;
    const got = page.searchResult3?.[kind] ?? [];
    synced[kind].push(...got.map((x) => x.id));
    offsets[kind] += got.length;
    done[kind] = got.length < pageSize;
  }
}
seen.sync = synced;
const found = (await call("search3", { query: "waltz" }))?.searchResult3;
seen.search = { songs: titles(found?.song), albums: (found?.album ?? []).map((a) => a.name) };

// --- star, rate: the first song, its album and artist stay starred; the second is starred then unstarred --
const [first, second] = songIds;
if (first && second) {
  await call("star", { id: [first, second], albumId: album.id, artistId: album.artistId });
  await call("unstar", { id: second });
  await call("setRating", { id: first, rating: 4 });
  const starred = (await call("getAlbumList2", { type: "starred" }))?.albumList2?.album ?? [];
  seen.starredAlbums = starred.map((a) => a.name);
  const rated = (await call("getSong", { id: first }))?.song;
  seen.rated = rated ? { userRating: rated.userRating, starred: rated.starred instanceof Date } : null;
}

// --- playlists: one kept (both songs), one made and deleted ----------------------------------------------
if (songIds.length) {
  const made = (await call("createPlaylist", { name: opt.playlist, songId: songIds }))?.playlist;
  const scratch = (await call("createPlaylist", { name: `${opt.playlist} (scratch)` }))?.playlist;
  const listed = (await call("getPlaylists"))?.playlists?.playlist ?? [];
  const full = made ? (await call("getPlaylist", { id: made.id }))?.playlist : null;
  const deleted = scratch ? await call("deletePlaylist", { id: scratch.id }) : null;
  const after = (await call("getPlaylists"))?.playlists?.playlist ?? [];
  seen.playlist = {
    id: made?.id ?? null,
    listed: listed.map((p) => p.name),
    songCount: full?.songCount ?? null,
    songs: titles(full?.entry),
    deleted: deleted?.status === "ok",
    after: after.map((p) => p.name),
  };
}

// --- the play queue: both songs, at the second, 1.234 s in -----------------------------------------------
if (first && second) {
  await call("savePlayQueue", { id: [first, second], current: second, position: 1234 });
  const q = (await call("getPlayQueue"))?.playQueue;
  seen.playQueue = q
    ? { songs: titles(q.entry), current: q.current, position: q.position, changedBy: q.changedBy }
    : null;
}

// --- play: stream the first song (the library returns fetch's Response), then scrobble it ---------------
seen.stream = [];
for (const id of songIds) {
  const res = await api.stream({ id });
  const type = res.headers.get("content-type") ?? "";
  const entry = { id, httpStatus: res.status, contentType: type, redirected: res.redirected };
  if (type.includes("json")) {
    // a Subsonic error in the format asked, with HTTP 200: the library hands it over as a Response
    const body = await res.json();
    entry.error = body["subsonic-response"]?.error ?? null;
  } else {
    const bytes = Buffer.from(await res.arrayBuffer());
    entry.bytes = bytes.length;
    if (opt.out && !seen.stream.some((e) => e.file)) {
      await writeFile(opt.out, bytes);
      entry.file = opt.out;
    }
  }
  seen.stream.push(entry);
}
if (first) {
  seen.scrobble = (await call("scrobble", { id: first, submission: true, time: Date.now() }))?.status ?? null;
}

// --- what Cadenza leaves out (user administration): an app's admin screen asks, and must get a failed
// answer it can parse (the library parses every answer as JSON: anything else throws) --------------------
try {
  const users = await api.getUsers();
  seen.getUsers = { status: users.status, error: users.error ?? null };
} catch (err) {
  seen.getUsers = { threw: String(err) };
}

console.log(JSON.stringify(seen));
