// The track's waveform from the server's precomputed peaks (audiowaveform JSON): never decoded here.
// Played part in the accent colour; click (or arrow keys) to seek.

import { columnsOf } from "../peaks";
import { player } from "../playback";
import { getState, watch } from "../store";
import { h } from "./dom";

const HEIGHT = 48;

export function Waveform(): HTMLElement {
  const canvas = h("canvas", { class: "waveform-canvas", height: HEIGHT });
  const box = h(
    "div",
    {
      class: "waveform",
      role: "slider",
      tabindex: 0,
      "aria-label": "Seek",
      "aria-valuemin": 0,
      onclick: (e: Event) => {
        const { duration } = getState();
        const rect = canvas.getBoundingClientRect();
        const x = (e as MouseEvent).clientX - rect.left;
        if (duration > 0 && rect.width > 0) player.seek((x / rect.width) * duration);
      },
      onkeydown: (e: Event) => {
        const key = (e as KeyboardEvent).key;
        const step = key === "ArrowRight" ? 5 : key === "ArrowLeft" ? -5 : 0;
        if (step) {
          e.preventDefault();
          player.seek(getState().position + step);
        }
      },
    },
    canvas,
  );

  const draw = () => {
    const { waveform, position, duration } = getState();
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
