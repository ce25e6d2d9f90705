import { api, type Suggestion } from "../api";
import { playTracks } from "../queue";
import { h } from "./dom";

const KIND_LABEL: Record<string, string> = { track: "Tracks", artist: "Artists", release: "Releases" };

/** Search as you type: completions from /api/search/suggest grouped by kind; Enter shows all results. */
export function SearchBox(): HTMLElement {
  const input = h("input", {
    type: "search",
    placeholder: "Search artists, releases, tracks",
    "aria-label": "Search",
    autocomplete: "off",
    class: "search-input",
  });
  const list = h("div", { class: "suggestions", role: "listbox", hidden: true });
  let timer: number | undefined;
  let asked = 0;

  const open = (s: Suggestion) => {
    list.hidden = true;
    if (s.kind === "artist") location.hash = `#/artist/${s.id}`;
    else if (s.kind === "release") location.hash = `#/release/${s.id}`;
    else void api.track(s.id).then((t) => playTracks([t]));
  };

  const show = (found: Suggestion[]) => {
    const groups = new Map<string, Suggestion[]>();
    for (const s of found) groups.set(s.kind, [...(groups.get(s.kind) ?? []), s]);
    list.replaceChildren(
      ...[...groups].map(([kind, items]) =>
        h("div", { class: "suggestion-group" },
          h("div", { class: "group-label" }, KIND_LABEL[kind] ?? kind),
          items.map((s) =>
            h("button", { class: "suggestion", role: "option", "data-kind": s.kind, onmousedown: (e: Event) => {
              e.preventDefault();
              open(s);
            } }, s.text),
          ),
        ),
      ),
    );
    list.hidden = found.length === 0;
  };

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const text = input.value.trim();
    if (!text) return show([]);
    timer = window.setTimeout(async () => {
      const mine = ++asked;
      const found = await api.suggest(text).catch(() => []);
      if (mine === asked && input.value.trim() === text) show(found);
    }, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && input.value.trim()) {
      list.hidden = true;
      location.hash = `#/search?q=${encodeURIComponent(input.value.trim())}`;
    } else if (e.key === "Escape") list.hidden = true;
  });
  input.addEventListener("blur", () => window.setTimeout(() => (list.hidden = true), 150));
  return h("div", { class: "search-box", role: "search" }, input, list);
}
