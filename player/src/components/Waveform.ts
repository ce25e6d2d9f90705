// The track's waveform from the server's precomputed peaks (audiowaveform JSON): never decoded here.
// Played part in the accent colour; click or drag to seek; as a slider, arrows, Page Up/Down, Home, End.

import { columnsOf } from "../peaks";
import { player } from "../playback";
import { getState, watch } from "../store";
import { clock, h } from "./dom";

const HEIGHT = 48;

export function Waveform(): HTMLElement {
  const canvas = h("canvas", { class: "waveform-canvas", height: HEIGHT });
  let dragging: number | null = null; // seconds under the pointer while a drag lasts
  const at = (e: PointerEvent): number => {
    const { duration } = getState();
    const rect = canvas.getBoundingClientRect();
    const x = Math.max(0, Math.min(e.clientX - rect.left, rect.width));
    return rect.width > 0 ? (x / rect.width) * duration : 0;
  };
  const box = h(
    "div",
    {
      class: "waveform",
      role: "slider",
      tabindex: 0,
      "aria-label": "Seek",
      "aria-valuemin": 0,
      // Press, drag (the played part follows the pointer) and release to seek: one seek, where released.
      onpointerdown: (e: Event) => {
        const p = e as PointerEvent;
        if (p.button !== 0 || !(getState().duration > 0)) return;
        box.setPointerCapture(p.pointerId);
        dragging = at(p);
        requestAnimationFrame(draw);
      },
      onpointermove: (e: Event) => {
        if (dragging === null) return;
        dragging = at(e as PointerEvent);
        requestAnimationFrame(draw);
      },
      onpointerup: (e: Event) => {
        if (dragging === null) return;
        const t = at(e as PointerEvent);
        dragging = null;
        player.seek(t);
      },
      onpointercancel: () => {
        dragging = null;
        requestAnimationFrame(draw);
      },
      onkeydown: (e: Event) => {
        const key = (e as KeyboardEvent).key;
        const { position, duration } = getState();
        const steps: Record<string, number> = {
          ArrowRight: position + 5, ArrowUp: position + 5, ArrowLeft: position - 5, ArrowDown: position - 5,
          PageUp: position + 30, PageDown: position - 30, Home: 0, End: duration - 1,
        };
        if (key in steps) {
          e.preventDefault();
          player.seek(steps[key]);
        }
      },
    },
    canvas,
  );

  const draw = () => {
    const { waveform, duration } = getState();
    const position = dragging ?? getState().position;
    const width = Math.max(1, Math.round(box.clientWidth || 600));
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== width * ratio) {
      canvas.width = width * ratio;
      canvas.height = HEIGHT * ratio;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${HEIGHT}px`;
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    const played = duration > 0 ? (position / duration) * width : 0;
    const styles = getComputedStyle(box);
    const accent = styles.getPropertyValue("--accent").trim() || "#e4572e";
    const rest = styles.getPropertyValue("--wave").trim() || "#8a8f98";
    box.setAttribute("aria-valuemax", String(Math.round(duration)));
    box.setAttribute("aria-valuenow", String(Math.round(position)));
    box.setAttribute("aria-valuetext", `${clock(position)} of ${clock(duration)}`);
    if (!waveform) {
      ctx.fillStyle = rest;
      ctx.fillRect(0, HEIGHT / 2 - 1, width, 2);
      ctx.fillStyle = accent;
      ctx.fillRect(0, HEIGHT / 2 - 1, played, 2);
      return;
    }
    const bar = 3;
    const cols = columnsOf(waveform, Math.floor(width / bar));
    const mid = HEIGHT / 2;
    cols.forEach(([lo, hi], i) => {
      const x = i * bar;
      ctx.fillStyle = x < played ? accent : rest;
      const top = mid - Math.max(hi, 0.02) * mid;
      const bottom = mid - Math.min(lo, -0.02) * mid;
      ctx.fillRect(x, top, bar - 1, bottom - top);
    });
  };
  watch((s) => s.waveform, () => requestAnimationFrame(draw));
  watch((s) => Math.floor(s.position * 4), () => requestAnimationFrame(draw));
  watch((s) => s.duration, () => requestAnimationFrame(draw));
  new ResizeObserver(() => draw()).observe(box);
  return box;
}
