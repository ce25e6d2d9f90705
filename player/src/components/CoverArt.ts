import type { Artwork } from "../api";
import { h } from "./dom";

/**
 * A cover from the server's rendered sizes: every WebP box size in `srcset` (the browser picks by the
 * layout size and the screen's density), the nearest one at or above the box as `src`, loaded lazily
 * with its size reserved (no layout shift). A plain tile when there is no picture.
 */
export function CoverArt(art: Artwork | null | undefined, size: number, label: string): HTMLElement {
  if (!art || !Object.keys(art.urls).length) {
    return h("div", { class: "cover cover-empty", style: `width:${size}px;height:${size}px`, "aria-hidden": "true" }, "♪");
  }
  const boxes = Object.keys(art.urls).map(Number).sort((a, b) => a - b);
  const box = boxes.find((b) => b >= size * (window.devicePixelRatio || 1)) ?? boxes[boxes.length - 1];
  return h("img", {
    class: "cover",
    src: art.urls[String(box)],
    srcset: boxes.map((b) => `${art.urls[String(b)]} ${b}w`).join(", "),
    sizes: `${size}px`,
    width: size,
    height: size,
    alt: label,
    loading: "lazy",
    decoding: "async",
  });
}
