import { player } from "../playback";
import { next, previous } from "../queue";
import { currentTrack, getState, update, watch } from "../store";
import { CoverArt } from "./CoverArt";
import { clock, h } from "./dom";
import { Icon } from "./Icon";
import { Waveform } from "./Waveform";

/** The bar at the bottom: what is playing, the transport, the waveform, volume, quality, the queue. */
export function PlayerBar(): HTMLElement {
  const cover = h("div", { class: "now-cover" });
  const title = h("div", { class: "now-title" });
  const artists = h("div", { class: "now-artists" });
  const toggle = h("button", { class: "play", "aria-label": "Play", onclick: () => player.toggle() }, Icon("play", 24));
  const elapsed = h("span", { class: "elapsed" }, "0:00");
  const total = h("span", { class: "total" }, "0:00");
  const quality = h("span", { class: "quality", title: "Quality playing now", "aria-live": "polite" });
  const pin = h("select", {
    class: "quality-pin",
    "aria-label": "Quality",
    onchange: (e: Event) => player.setQualityPin((e.target as HTMLSelectElement).value),
  });
  const normalise = h(
    "select",
    {
      class: "normalise",
      "aria-label": "Loudness normalisation",
      title: "Loudness normalisation",
      onchange: (e: Event) => player.setNormalise((e.target as HTMLSelectElement).value as "track" | "album" | "off"),
    },
    h("option", { value: "track" }, "Normalise: track"),
    h("option", { value: "album" }, "Normalise: album"),
    h("option", { value: "off" }, "Normalise: off"),
  );
  const notice = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  const volume = h("input", {
    type: "range",
    min: 0,
    max: 1,
    step: 0.01,
    "aria-label": "Volume",
    class: "volume",
    oninput: (e: Event) => player.setVolume(Number((e.target as HTMLInputElement).value)),
  });

  const bar = h(
    "footer",
    { class: "player-bar", "aria-label": "Player" },
    h("div", { class: "now" }, cover, h("div", {}, title, artists)),
    h(
      "div",
      { class: "transport" },
      h("div", { class: "buttons" },
        h("button", { "aria-label": "Previous", onclick: previous }, Icon("previous")),
        toggle,
        h("button", { "aria-label": "Next", onclick: next }, Icon("next")),
      ),
      h("div", { class: "timeline" }, elapsed, Waveform(), total),
      notice,
    ),
    h(
      "div",
      { class: "extras" },
      quality,
      pin,
      normalise,
      h("label", { class: "volume-label" }, Icon("volume"), volume),
      h("button", { "aria-label": "Keyboard shortcuts", class: "shortcuts-toggle", title: "Keyboard shortcuts (?)",
        onclick: () => update({ shortcutsOpen: true }) }, "?"),
      h("button", { "aria-label": "Queue", class: "queue-toggle", onclick: () => update({ queueOpen: !getState().queueOpen }) }, Icon("queue")),
    ),
  );

  player.audio.hidden = true; // in the document (no controls of its own) so that tools can find it
  bar.append(player.audio);

  watch(currentTrack, (t) => {
    cover.replaceChildren(CoverArt(t?.artwork, 48, t ? t.title : ""));
    title.textContent = t?.title ?? "Nothing playing";
    artists.textContent = t?.artists.join(", ") ?? "";
  });
  watch((s) => s.playing, (playing) => {
    toggle.replaceChildren(Icon(playing ? "pause" : "play", 24));
    toggle.setAttribute("aria-label", playing ? "Pause" : "Play");
  });
  watch((s) => Math.floor(s.position), (p) => (elapsed.textContent = clock(p)));
  watch((s) => s.duration, (d) => (total.textContent = clock(d)));
  watch((s) => s.quality, (q) => (quality.textContent = q ?? ""));
  watch((s) => s.notice, (n) => {
    notice.textContent = n ?? "";
    notice.hidden = !n;
  });
  watch((s) => s.volume, (v) => (volume.value = String(v)));
  // Auto, or one of the levels the server offers (the stream's, else Cadenza's default three).
  watch((s) => `${s.qualityPin}|${s.levels.join(",")}`, (_, s) => {
    const names = s.levels.length ? s.levels : ["aac_128", "aac_256", "aac_320"];
    if (s.qualityPin !== "auto" && !names.includes(s.qualityPin)) names.push(s.qualityPin);
    pin.replaceChildren(
      h("option", { value: "auto" }, "Auto"),
      ...names.map((n) => h("option", { value: n }, n.replace(/^aac_(\d+)$/, "$1 kbps"))),
    );
    pin.value = s.qualityPin;
  });
  watch((s) => s.normalise, (m) => (normalise.value = m));
  return bar;
}
