import type { Track } from "../api";
import { clearQueue, removeFromQueue } from "../queue";
import { update, watch } from "../store";
import { h } from "./dom";
import { Icon } from "./Icon";

/** The queue: what plays after this, with remove and clear. */
export function QueuePanel(): HTMLElement {
  const list = h("ol", { class: "queue-list" });
  const panel = h(
    "aside",
    { class: "queue-panel", "aria-label": "Queue", hidden: true },
    h("header", {},
      h("h2", {}, "Queue"),
      h("button", { onclick: clearQueue }, "Clear"),
      h("button", { "aria-label": "Close queue", onclick: () => update({ queueOpen: false }) }, Icon("close")),
    ),
    list,
  );
  watch((s) => s.queueOpen, (open) => (panel.hidden = !open));
  watch((s) => s.queue, (_, s) => render(s.queue, s.current));
  watch((s) => s.current, (_, s) => render(s.queue, s.current));
  function render(queue: Track[], current: number) {
    list.replaceChildren(
      ...queue.map((t, i) =>
        h("li", { class: i === current ? "playing" : "" },
          h("span", {}, t.title, h("small", {}, ` ${t.artists.join(", ")}`)),
          i === current ? h("span", { class: "now-label" }, "now") :
            h("button", { class: "icon", "aria-label": `Remove ${t.title}`, onclick: () => removeFromQueue(i) }, Icon("close", 16)),
        ),
      ),
    );
  }
  return panel;
}
