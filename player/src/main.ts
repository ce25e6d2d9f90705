// The app: the login screen until there is a token, then the top bar, the screen the address names
// (#/artists, #/release/3, #/search?q=...), the queue and the player bar.

import "./styles.css";
import { api, hasToken, setToken, whenUnauthorized } from "./api";
import { h } from "./components/dom";
import { LoginScreen } from "./components/LoginScreen";
import { PlayerBar } from "./components/PlayerBar";
import { QueuePanel } from "./components/QueuePanel";
import {
  ArtistScreen, ArtistsScreen, HomeScreen, PlaylistScreen, ReleaseScreen, ReleasesScreen, SearchScreen, TracksScreen,
} from "./components/Screens";
import { SearchBox } from "./components/SearchBox";
import { ConnectionBadge, DownloadsScreen } from "./components/Offline";
import { forgetApiAnswers, startOffline } from "./pwa";
import { player } from "./playback";
import { next } from "./queue";
import { getState, update, watch, type Route } from "./store";

const root = document.getElementById("app") as HTMLElement;
player.onEnded = next;

function routeOf(hash: string): Route {
  const [path, query] = hash.replace(/^#\/?/, "").split("?");
  const [name, id] = path.split("/");
  const n = Number(id);
  if (name === "artists") return { name: "artists" };
  if (name === "releases") return { name: "releases" };
  if (name === "tracks") return { name: "tracks" };
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
        h("a", { href: "#/downloads" }, "Downloads")),
      ConnectionBadge(),
      SearchBox(),
      h("button", { class: "link", onclick: logout }, "Log out"),
    ),
    main,
    QueuePanel(),
    PlayerBar(),
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

// Keyboard: space plays or pauses when no field has the focus.
document.addEventListener("keydown", (e) => {
  const target = e.target as HTMLElement;
  if (e.key === " " && getState().user && !/INPUT|TEXTAREA|BUTTON|SELECT/.test(target.tagName)) {
    e.preventDefault();
    player.toggle();
  }
});
