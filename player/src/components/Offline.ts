// What the listener sees of offline listening: a Download button for a track, release or playlist, a
// badge when the network is gone, and the Downloads screen (what is stored, how much room it takes,
// how much the browser allows, and a Remove button per item).

import type { Track } from "../api";
import {
  QUALITIES, download, downloadedBytes, isDownloading, item, itemBytes, items, onDownloadsChange, remove, tracksOf,
  type Kind, type Quality,
} from "../downloads";
import { player } from "../playback";
import { h } from "./dom";
import { TrackList } from "./TrackList";

const QUALITY_KEY = "cadenza.downloadQuality";
const chosenQuality = (): Quality => {
  const q = localStorage.getItem(QUALITY_KEY) as Quality | null;
  return q && QUALITIES.includes(q) ? q : "aac_128";
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Run `listener` on download changes until `el`, once shown, has left the page (its screen replaced). */
function whileShown(el: HTMLElement, listener: () => void): void {
  let shown = false;
  const off = onDownloadsChange(() => {
    if (el.isConnected) shown = true;
    else if (shown) return void off();
    listener();
  });
}

/** "Download" / "Downloading…" / "Downloaded" for one item; the tracks are asked for when clicked. */
export function DownloadButton(kind: Kind, id: number, title: string, tracks: () => Track[] | Promise<Track[]>): HTMLElement {
  const button = h("button", { class: "download", "data-download": `${kind}:${id}` });
  const error = h("span", { class: "error", role: "alert" });
  const show = () => {
    const done = item(kind, id);
    const busy = isDownloading(kind, id);
    button.textContent = busy ? "Downloading…" : done ? "Downloaded" : "Download";
    button.toggleAttribute("disabled", busy);
    button.setAttribute("aria-label", done ? `${title} is downloaded (${done.quality}): remove` : `Download ${title}`);
    button.classList.toggle("downloaded", !!done && !busy);
  };
  button.addEventListener("click", async () => {
    error.textContent = "";
    try {
      if (item(kind, id)) await remove(kind, id);
      else await download(kind, id, title, await tracks(), chosenQuality());
    } catch (e) {
      error.textContent = `Download failed: ${e instanceof Error ? e.message : e}`;
    }
  });
  whileShown(button, show);
  show();
  return h("span", { class: "download-action" }, button, error);
}

/** "Offline" in the top bar while the browser has no network, and what that means for playback. */
export function ConnectionBadge(): HTMLElement {
  const badge = h("span", { class: "offline-badge", role: "status" });
  const audio = player.audio;
  const show = () => {
    const stalled = !audio.paused && audio.readyState < HTMLMediaElement.HAVE_FUTURE_DATA;
    badge.textContent = navigator.onLine
      ? ""
      : stalled
        ? "Offline: playback resumes when the network returns"
        : "Offline: downloaded music plays";
    badge.hidden = navigator.onLine;
  };
  for (const name of ["online", "offline"]) window.addEventListener(name, show);
  for (const name of ["waiting", "playing", "pause", "emptied"]) audio.addEventListener(name, show);
  show();
  return badge;
}

/** Stored bytes of downloads, and what the browser reports for the whole origin against its quota. */
function StorageUsage(): HTMLElement {
  const line = h("p", { class: "storage-usage" }, `Downloads: ${formatBytes(downloadedBytes())}`);
  const meter = h("meter", { class: "storage-meter", min: 0, max: 1, value: 0, "aria-label": "Storage used" });
  void navigator.storage?.estimate?.().then(({ usage = 0, quota = 0 }) => {
    line.textContent =
      `Downloads: ${formatBytes(downloadedBytes())} · this site uses ${formatBytes(usage)}` +
      (quota ? ` of ${formatBytes(quota)} the browser allows` : "");
    if (quota) meter.setAttribute("value", String(usage / quota));
  });
  return h("div", { class: "storage" }, line, meter);
}

const qualityLabel: Record<Quality, string> = { aac_128: "128 kbps", aac_256: "256 kbps", aac_320: "320 kbps" };

function QualityPicker(): HTMLElement {
  const select = h("select", { id: "download-quality", onchange: (e: Event) =>
    localStorage.setItem(QUALITY_KEY, (e.target as HTMLSelectElement).value) },
  QUALITIES.map((q) => h("option", { value: q, selected: q === chosenQuality() }, qualityLabel[q])));
  return h("label", { class: "download-quality" }, "Download quality ", select);
}

/** #/downloads: every downloaded item with its tracks (playable offline), its size and Remove. */
export async function DownloadsScreen(): Promise<HTMLElement> {
  const list = h("div", { class: "downloads" });
  const render = () => {
    const all = items();
    list.replaceChildren(
      StorageUsage(),
      ...(all.length
        ? all.map((it) => h("section", { class: "download-item", "data-item": it.key },
            h("h2", {}, it.title, " ", h("small", {}, `${it.kind} · ${qualityLabel[it.quality]} · ${formatBytes(itemBytes(it))}`)),
            h("button", { onclick: () => remove(it.kind, it.id), "aria-label": `Remove ${it.title}` }, "Remove"),
            TrackList(tracksOf(it))))
        : [h("p", { class: "empty" }, "Nothing downloaded yet: use Download on a track, release or playlist.")]),
    );
  };
  whileShown(list, render);
  render();
  return h("section", { class: "screen" }, h("h1", {}, "Downloads"), QualityPicker(), list);
}
