import { SHORTCUTS } from "../shortcuts";
import { update, watch } from "../store";
import { h } from "./dom";

/** The keyboard shortcuts, opened with "?" (or the player bar's button); Escape or Close shuts it. */
export function ShortcutsDialog(): HTMLDialogElement {
  const dialog = h(
    "dialog",
    { class: "shortcuts", "aria-labelledby": "shortcuts-title" },
    h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
    h("dl", {}, ...SHORTCUTS.flatMap((s) => [
      h("dt", {}, ...s.label.map((k) => h("kbd", {}, k))),
      h("dd", {}, s.does),
    ])),
    h("button", { class: "close", onclick: () => update({ shortcutsOpen: false }) }, "Close"),
  );
  dialog.addEventListener("close", () => update({ shortcutsOpen: false }));
  watch((s) => s.shortcutsOpen, (open) => {
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  });
  return dialog;
}
