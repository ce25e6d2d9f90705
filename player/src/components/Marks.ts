// A heart (favourite) and 1-5 stars (rating) for a track, release or artist, wherever it appears. Both
// follow marks.ts, so the same item shows the same marks in every list at once.

import type { MarkKind } from "../api";
import { setRating, setStarred, showsMarks } from "../marks";
import { say } from "./Toast";
import { h } from "./dom";
import { Icon } from "./Icon";

export function FavouriteButton(kind: MarkKind, id: number, label: string): HTMLElement {
  const button = h("button", { class: "icon heart", type: "button", "aria-pressed": "false", "aria-label": `Favourite ${label}`, title: "Favourite" });
  let starred = false;
  showsMarks(button, kind, id, (m) => {
    starred = m.starred;
    button.setAttribute("aria-pressed", String(starred));
    button.replaceChildren(Icon(starred ? "heart" : "heartOutline", 18));
  });
  button.addEventListener("click", () => {
    setStarred(kind, id, !starred).then(
      () => say(starred ? `Added ${label} to favourites` : `Removed ${label} from favourites`),
      () => say(`Could not change the favourite for ${label}`),
    );
  });
  return button;
}

/**
 * Stars as a radio group (the WAI-ARIA pattern): Tab reaches the checked star (or the first), the arrow
 * keys move and set the rating, Home/End jump; choosing the rating it has clears it.
 */
export function StarRating(kind: MarkKind, id: number, label: string): HTMLElement {
  let rating = 0;
  const stars = [1, 2, 3, 4, 5].map((n) =>
    h("button", { type: "button", role: "radio", class: "star", "aria-label": `${n} star${n > 1 ? "s" : ""}`, "data-n": n }, Icon("star", 16)),
  );
  const group = h("div", { class: "rating", role: "radiogroup", "aria-label": `Rate ${label}` }, stars);
  const paint = (r: number) => {
    rating = r;
    stars.forEach((s, i) => {
      s.setAttribute("aria-checked", String(i + 1 === r));
      s.classList.toggle("lit", i < r);
      s.tabIndex = (r ? i + 1 === r : i === 0) ? 0 : -1;
    });
  };
  showsMarks(group, kind, id, (m) => paint(m.rating ?? 0));
  const choose = (n: number, focus = false) => {
    const value = n === rating && !focus ? 0 : n;
    setRating(kind, id, value).then(
      () => say(value ? `Rated ${label} ${value} of 5` : `Cleared the rating of ${label}`),
      () => say(`Could not rate ${label}`),
    );
    if (focus) stars[n - 1].focus();
  };
  stars.forEach((s, i) => s.addEventListener("click", () => choose(i + 1)));
  group.addEventListener("keydown", (e) => {
    // From the checked star, or from the one focused when none is checked yet.
    const at = rating || stars.indexOf(document.activeElement as HTMLButtonElement) + 1;
    const to = { ArrowRight: at + 1, ArrowUp: at + 1, ArrowLeft: at - 1, ArrowDown: at - 1, Home: 1, End: 5 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    choose(Math.min(5, Math.max(1, to)), true);
  });
  return group;
}
