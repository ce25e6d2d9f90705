import type { Artwork } from "../api";
import { h } from "./dom";

/** A cover from the server's rendered sizes (`artwork.urls`), or a plain tile when there is none. */
export function CoverArt(art: Artwork | null | undefined, size: number, label: string): HTMLElement {
  if (!art) return h("div", { class: "cover cover-empty", style: `width:${size}px;height:${size}px`, "aria-hidden": "true" }, "♪");
  const boxes = Object.keys(art.urls).map(Number).sort((a, b) => a - b);
  const box = boxes.find((b) => b >= size * (window.devicePixelRatio || 1)) ?? boxes[boxes.length - 1];
  return h("img", {
    class: "cover",
    src: art.urls[String(box)],
    width: size,
    height: size,
    alt: label,
    loading: "lazy",
  });
}
