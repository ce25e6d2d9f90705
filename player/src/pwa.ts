// The offline side of the app, started once by main.ts: the service worker (sw.ts) and what happens
// when the network comes back (queued playback events sent, used offline sessions renewed).

import { api, hasToken } from "./api";
import { renewGrants } from "./downloads";
import { drain } from "./outbox";
import { startPrefetching } from "./prefetch";
import { watch } from "./store";

/** Register /sw.js (scope `/`), and catch up whenever the network returns. */
export function startOffline(): void {
  startPrefetching();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      /* no service worker (an insecure origin): the app still works online */
    });
    // The worker keeps the last answer of /api/me: asked once it controls the page and at each sign-in,
    // an offline reload finds the listener still signed in (and their downloads with them).
    const remember = () => {
      if (hasToken() && navigator.serviceWorker.controller) api.me().catch(() => {});
    };
    navigator.serviceWorker.addEventListener("controllerchange", remember);
    watch((s) => s.user?.id, remember);
  }
  const catchUp = () => {
    if (!hasToken() || !navigator.onLine) return;
    void drain().then(() => renewGrants());
  };
  window.addEventListener("online", catchUp);
  catchUp();
}

/** Forget what the API cache holds about this listener (on sign-out). */
export async function forgetApiAnswers(): Promise<void> {
  const { API_CACHE } = await import("./mediakey");
  await caches.delete(API_CACHE).catch(() => {});
}
