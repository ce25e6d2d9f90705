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
  const quality = h("span", { class: "quality", title: "Quality playing now" });
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
      h("label", { class: "volume-label" }, Icon("volume"), volume),
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
  return bar;
}
