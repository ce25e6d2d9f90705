import { SHORTCUTS } from "../shortcuts";
import { update, watch } from "../store";
import { h } from "./dom";

/**
 * The keyboard shortcuts, opened with "?" (or the player bar's button); Escape or Close shuts it.
 *
 * Closing leaves the focus where Space plays or pauses, at once. Left to the browser, Escape hid the
 * dialog but the focus stayed on its Close button (opened from the page itself, there is no element to
 * give it back to, and Chromium moves focus off a hidden element only at its next rendering update), so a
 * Space pressed right after Escape pressed that hidden button instead (measured in the page: 3 times in
 * 12, more often on a busy machine); and the store heard of the closing only with the `close` event, also
 * later. So Escape is handled here, the dialog closed by the store at once, and the focus taken off any
 * button it is left on or given back to (the Close button, this help's own "?", a track's Play), where
 * Space would press that button instead of playing or pausing, as the help has just said it does.
 */
export function ShortcutsDialog(): HTMLDialogElement {
  const shut = () => update({ shortcutsOpen: false });
  const dialog = h(
    "dialog",
    { class: "shortcuts", "aria-labelledby": "shortcuts-title" },
    h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
    h("dl", {}, ...SHORTCUTS.flatMap((s) => [
      h("dt", {}, ...s.label.map((k) => h("kbd", {}, k))),
      h("dd", {}, s.does),
    ])),
    h("button", { class: "close", onclick: shut }, "Close"),
  );
  dialog.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault(); // closed here, not by the browser
    shut();
  });
  dialog.addEventListener("cancel", (e) => {
    e.preventDefault(); // any other close request (a back gesture): the same way
    shut();
  });
  const unfocus = () => {
    if (document.activeElement instanceof HTMLButtonElement) document.activeElement.blur();
  };
  dialog.addEventListener("close", () => {
    shut();
    unfocus(); // closed some other way (a form, the browser): as soon as the page hears of it
  });
  watch((s) => s.shortcutsOpen, (open) => {
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) {
      dialog.close(); // the browser gives the focus back to where it was, if anywhere
      unfocus();
    }
  });
  return dialog;
}
