// The app: the login screen until there is a token, then the top bar, the screen the address names
// (#/artists, #/release/3, #/search?q=...), the queue and the player bar.

import "./styles.css";
import { api, hasToken, setToken, whenUnauthorized } from "./api";
import { h } from "./components/dom";
import { LoginScreen } from "./components/LoginScreen";
import { PlayerBar } from "./components/PlayerBar";
import { QueuePanel } from "./components/QueuePanel";
import {
  ArtistScreen, ArtistsScreen, FavouritesScreen, HomeScreen, PlaylistScreen, PlaylistsScreen, ReleaseScreen,
  ReleasesScreen, SearchScreen, TracksScreen,
} from "./components/Screens";
import { Toast } from "./components/Toast";
import { syncQueue } from "./queueSync";
import { SearchBox } from "./components/SearchBox";
import { ShortcutsDialog } from "./components/ShortcutsDialog";
import { installMediaSession } from "./mediaSession";
import { installShortcuts } from "./shortcuts";
import { ConnectionBadge, DownloadsScreen } from "./components/Offline";
import { forgetApiAnswers, startOffline } from "./pwa";
import { player } from "./playback";
import { ended } from "./queue";
import { update, watch, type Route } from "./store";

const root = document.getElementById("app") as HTMLElement;
player.onEnded = ended; // repeat and unavailable tracks are the queue's business
syncQueue();
// For tools that inspect playback (the browser tests tap `player.output()` to hear what is played).
(window as unknown as { cadenza: object }).cadenza = { player };

function routeOf(hash: string): Route {
  const [path, query] = hash.replace(/^#\/?/, "").split("?");
  const [name, id] = path.split("/");
  const n = Number(id);
  if (name === "artists") return { name: "artists" };
  if (name === "releases") return { name: "releases" };
  if (name === "tracks") return { name: "tracks" };
  if (name === "playlists") return { name: "playlists" };
  if (name === "favourites") return { name: "favourites" };
  if (name === "artist" && n > 0) return { name: "artist", id: n };
  if (name === "release" && n > 0) return { name: "release", id: n };
  if (name === "playlist" && n > 0) return { name: "playlist", id: n };
  if (name === "downloads") return { name: "downloads" };
  if (name === "search") return { name: "search", q: new URLSearchParams(query).get("q") ?? "" };
  return { name: "home" };
}

function screenFor(r: Route): Promise<HTMLElement> {
  switch (r.name) {
    case "artists": return ArtistsScreen();
    case "artist": return ArtistScreen(r.id);
    case "releases": return ReleasesScreen();
    case "release": return ReleaseScreen(r.id);
    case "tracks": return TracksScreen();
    case "playlist": return PlaylistScreen(r.id);
    case "playlists": return PlaylistsScreen();
    case "favourites": return FavouritesScreen();
    case "search": return SearchScreen(r.q);
    case "downloads": return DownloadsScreen();
    default: return HomeScreen();
  }
}

function Shell(): HTMLElement {
  const main = h("main", { class: "content", id: "content" });
  let shown = 0;
  watch((s) => s.route, async (r) => {
    const mine = ++shown;
    main.setAttribute("aria-busy", "true");
    const screen = await screenFor(r).catch((e: Error) => h("p", { class: "error" }, e.message));
    if (mine !== shown) return;
    main.replaceChildren(screen);
    main.removeAttribute("aria-busy");
    for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
      if (a.getAttribute("href") === `#/${location.hash.replace(/^#\/?/, "").split(/[/?]/)[0]}`) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  });
  const logout = async () => {
    player.stop();
    await api.logout().catch(() => {});
    setToken(null);
    void forgetApiAnswers();
    update({ user: null, queue: [], current: -1 });
  };
  return h("div", { class: "shell" },
    h("header", { class: "top-bar" },
      h("a", { class: "brand", href: "#/" }, "Cadenza"),
      h("nav", { "aria-label": "Browse" },
        h("a", { href: "#/" }, "Home"), h("a", { href: "#/artists" }, "Artists"),
        h("a", { href: "#/releases" }, "Releases"), h("a", { href: "#/tracks" }, "Tracks"),
        h("a", { href: "#/playlists" }, "Playlists"), h("a", { href: "#/favourites" }, "Favourites"),
        h("a", { href: "#/downloads" }, "Downloads")),
      ConnectionBadge(),
      SearchBox(),
      h("button", { class: "link", onclick: logout }, "Log out"),
    ),
    main,
    QueuePanel(),
    PlayerBar(),
    ShortcutsDialog(),
    Toast(),
  );
}

window.addEventListener("hashchange", () => update({ route: routeOf(location.hash) }));
update({ route: routeOf(location.hash) });
whenUnauthorized(() => update({ user: null }));

// The shell is built once (its bars watch the store for the page's lifetime) and kept across sign-ins.
let shell: HTMLElement | null = null;
watch((s) => s.user !== null, (signedIn) => {
  if (signedIn) shell ??= Shell();
  root.replaceChildren(signedIn ? (shell as HTMLElement) : LoginScreen());
});

startOffline();

if (hasToken()) {
  api.me().then((user) => update({ user }), () => update({ user: null }));
}

// Keyboard shortcuts (shortcuts.ts, listed by "?") and the lock screen's controls.
installShortcuts();
installMediaSession();
