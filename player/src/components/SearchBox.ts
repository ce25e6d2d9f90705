import { api, type Artwork, type Suggestion } from "../api";
import { playTracks } from "../queue";
import { CoverArt } from "./CoverArt";
import { h } from "./dom";

const KINDS = ["track", "release", "artist"] as const;
const KIND_LABEL: Record<string, string> = { track: "Tracks", release: "Releases", artist: "Artists" };

/**
 * Search as you type (the WAI-ARIA combobox pattern): completions from /api/search/suggest grouped by
 * kind, then their covers from the ranked hits (/api/search carries `artwork`); ↑/↓ choose, Enter opens
 * the one chosen or, with none chosen, all results; Escape closes.
 */
export function SearchBox(): HTMLElement {
  const input = h("input", {
    type: "search",
    placeholder: "Search artists, releases, tracks",
    "aria-label": "Search",
    autocomplete: "off",
    class: "search-input",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": "search-suggestions",
  });
  const list = h("div", { class: "suggestions", role: "listbox", id: "search-suggestions", "aria-label": "Suggestions", hidden: true });
  let timer: number | undefined;
  let asked = 0;
  let options: HTMLElement[] = [];
  let active = -1;
  let shown: Suggestion[] = []; // in the options' order

  const setOpen = (open: boolean) => {
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    if (!open) choose(-1);
  };
  const choose = (i: number) => {
    options.forEach((o, k) => o.setAttribute("aria-selected", String(k === i)));
    active = i;
    if (i >= 0) {
      input.setAttribute("aria-activedescendant", options[i].id);
      options[i].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };

  const open = (s: Suggestion) => {
    setOpen(false);
    if (s.kind === "artist") location.hash = `#/artist/${s.id}`;
    else if (s.kind === "release") location.hash = `#/release/${s.id}`;
    else void api.track(s.id).then((t) => playTracks([t]));
  };

  const show = (found: Suggestion[], covers = new Map<string, Artwork | null | undefined>()) => {
    shown = [];
    const ordered = [...KINDS, ...new Set(found.map((s) => s.kind).filter((k) => !KINDS.includes(k as never)))];
    options = [];
    list.replaceChildren(
      ...ordered
        .map((kind) => [kind, found.filter((s) => s.kind === kind)] as const)
        .filter(([, items]) => items.length)
        .map(([kind, items]) =>
          h("div", { class: "suggestion-group", role: "group", "aria-labelledby": `group-${kind}` },
            h("div", { class: "group-label", id: `group-${kind}`, role: "presentation" }, KIND_LABEL[kind] ?? kind),
            items.map((s) => {
              const option = h("div", {
                class: "suggestion", role: "option", id: `suggestion-${s.kind}-${s.id}`, "data-kind": s.kind, "aria-selected": "false",
                onmousedown: (e: Event) => {
                  e.preventDefault();
                  open(s);
                },
              }, CoverArt(covers.get(`${s.kind}:${s.id}`), 32, ""), h("span", {}, s.text));
              options.push(option);
              shown.push(s);
              return option;
            }),
          ),
        ),
    );
    active = -1;
    setOpen(found.length > 0);
  };

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const text = input.value.trim();
    if (!text) return show([]);
    timer = window.setTimeout(async () => {
      const mine = ++asked;
      const found = await api.suggest(text).catch(() => []);
      if (mine !== asked || input.value.trim() !== text) return;
      show(found);
      // Covers: the ranked hits of each kind shown carry their artwork.
      const kinds = KINDS.filter((k) => found.some((s) => s.kind === k));
      const pages = await Promise.all(kinds.map((k) => api.search(text, k, 10).catch(() => ({ hits: [] }))));
      if (mine !== asked) return;
      const covers = new Map(pages.flatMap((p) => p.hits.map((hit) => [`${hit.kind}:${hit.id}`, hit.artwork] as const)));
      const keep = active;
      show(found, covers);
      if (keep >= 0) choose(keep);
    }, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!options.length) return;
      e.preventDefault();
      setOpen(true);
      const step = e.key === "ArrowDown" ? 1 : -1;
      choose((active + step + options.length + (active < 0 && step < 0 ? 1 : 0)) % options.length);
    } else if (e.key === "Enter" && input.value.trim()) {
      if (active >= 0 && !list.hidden) return open(shown[active]);
      setOpen(false);
      location.hash = `#/search?q=${encodeURIComponent(input.value.trim())}`;
    } else if (e.key === "Escape") setOpen(false);
  });
  input.addEventListener("blur", () => window.setTimeout(() => setOpen(false), 150));
  return h("div", { class: "search-box", role: "search" }, input, list);
}
