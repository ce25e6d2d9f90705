import type { Track } from "../api";
import { loadMarks } from "../marks";
import { clearQueue, cycleRepeat, jumpTo, moveInQueue, removeFromQueue, toggleShuffle } from "../queue";
import { update, watch } from "../store";
import { CoverArt } from "./CoverArt";
import { clock, h } from "./dom";
import { Icon } from "./Icon";
import { FavouriteButton } from "./Marks";
import { dragToReorder } from "./Reorder";

const REPEAT_LABEL = { off: "Repeat: off", all: "Repeat: all", one: "Repeat: one" } as const;

/**
 * The queue: what plays now and after, each row playable, movable (drag, the up/down buttons, Alt+↑/↓)
 * and removable; shuffle and repeat (off / all / one); clear keeps the track playing.
 */
export function QueuePanel(): HTMLElement {
  const list = h("ol", { class: "queue-list", "aria-label": "Queued tracks" });
  const shuffle = h("button", { type: "button", class: "icon toggle", "aria-pressed": "false", "aria-label": "Shuffle", title: "Shuffle", onclick: toggleShuffle }, Icon("shuffle", 18));
  const repeat = h("button", { type: "button", class: "icon toggle", "aria-label": "Repeat: off", title: "Repeat", onclick: cycleRepeat }, Icon("repeat", 18));
  const count = h("p", { class: "queue-count" });
  const closer = h("button", { type: "button", class: "icon", "aria-label": "Close queue", onclick: () => update({ queueOpen: false }) }, Icon("close"));
  const panel = h(
    "aside",
    { class: "queue-panel", "aria-label": "Queue", hidden: true },
    h("header", {},
      h("h2", {}, "Queue"),
      shuffle, repeat,
      h("button", { type: "button", onclick: clearQueue }, "Clear"),
      closer,
    ),
    count,
    list,
  );
  let focusAfter: { index: number; selector: string } | null = null;
  const move = (from: number, to: number, selector: string) => {
    focusAfter = { index: to, selector };
    moveInQueue(from, to);
  };
  dragToReorder(list, (from, to) => move(from, to, ".queue-title"));

  // Opening moves the focus into the panel, closing gives it back to the queue button; Escape closes.
  let opened = false;
  watch((s) => s.queueOpen, (open) => {
    panel.hidden = !open;
    if (open) requestAnimationFrame(() => closer.focus());
    else if (opened) document.querySelector<HTMLElement>(".queue-toggle")?.focus();
    opened = open;
  });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !(e.target as HTMLElement).closest(".menu")) update({ queueOpen: false });
  });
  watch((s) => s.queue, (_, s) => {
    render(s.queue, s.current);
    if (s.queue.length) void loadMarks("track", s.queue.slice(0, 500).map((t) => t.id));
  });
  watch((s) => s.current, (_, s) => render(s.queue, s.current));
  watch((s) => s.shuffle, (on) => {
    shuffle.setAttribute("aria-pressed", String(on));
    shuffle.classList.toggle("on", on);
  });
  watch((s) => s.repeat, (mode) => {
    repeat.setAttribute("aria-label", REPEAT_LABEL[mode]);
    repeat.classList.toggle("on", mode !== "off");
    repeat.replaceChildren(Icon(mode === "one" ? "repeatOne" : "repeat", 18));
  });

  function render(queue: Track[], current: number) {
    const left = queue.slice(Math.max(current, 0)).reduce((sum, t) => sum + (t.duration_sec ?? 0), 0);
    count.textContent = queue.length ? `${queue.length} track${queue.length === 1 ? "" : "s"} · ${clock(left)} left` : "Nothing queued.";
    list.replaceChildren(
      ...queue.map((t, i) => {
        const unavailable = t.available === false;
        return h("li", { class: [i === current ? "playing" : "", unavailable ? "unavailable" : ""].join(" ").trim() || undefined, draggable: "true", "data-track-id": t.id },
          h("span", { class: "grip", "aria-hidden": "true" }, Icon("drag", 16)),
          CoverArt(t.artwork, 32, ""),
          h("span", { class: "queue-main" },
            h("button", { type: "button", class: "link queue-title", "aria-current": i === current ? "true" : undefined,
              "aria-label": unavailable ? `${t.title}, unavailable` : `Play ${t.title} from the queue`, "aria-disabled": unavailable ? "true" : undefined,
              onclick: () => jumpTo(i) },
              h("span", { class: "title" }, t.title)),
            h("small", { class: "queue-artists" }, t.artists.join(", "))),
          i === current ? h("span", { class: "now-label" }, "now") : "",
          FavouriteButton("track", t.id, t.title),
          h("button", { type: "button", class: "icon move-up", "aria-label": `Move ${t.title} up`, disabled: i === 0, onclick: () => move(i, i - 1, i - 1 === 0 ? ".move-down" : ".move-up") }, Icon("up", 16)),
          h("button", { type: "button", class: "icon move-down", "aria-label": `Move ${t.title} down`, disabled: i === queue.length - 1, onclick: () => move(i, i + 1, i + 1 === queue.length - 1 ? ".move-up" : ".move-down") }, Icon("down", 16)),
          h("button", { type: "button", class: "icon remove", "aria-label": `Remove ${t.title}`, onclick: () => removeFromQueue(i) }, Icon("close", 16)),
        );
      }),
    );
    if (focusAfter) {
      list.children[focusAfter.index]?.querySelector<HTMLElement>(focusAfter.selector)?.focus();
      focusAfter = null;
    }
  }
  return panel;
}
