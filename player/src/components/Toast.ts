// A polite live region for what an action did ("Added 3 tracks to Road trip"): screen readers hear it,
// everyone sees it for a few seconds.

import { h } from "./dom";

const region = h("div", { class: "toast", role: "status", "aria-live": "polite" });
let timer: number | undefined;

export function say(message: string): void {
  region.textContent = message;
  region.classList.add("shown");
  window.clearTimeout(timer);
  timer = window.setTimeout(() => region.classList.remove("shown"), 3500);
}

export function Toast(): HTMLElement {
  return region;
}
