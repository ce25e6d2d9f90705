// The service worker (built by vite-plugin-pwa's injectManifest from this file, served at /sw.js with
// scope `/` and revalidated on every load by src/cadenza/web/static.py):
// - the app shell (index.html and the hashed assets) is precached, so a reload with no network shows
//   the app; a new build replaces it (the precache manifest carries each file's revision);
// - downloaded media (downloads.ts stores it) is answered from Cache Storage by its token-free key;
// - API reads go to the network first and fall back to the last answer seen, for offline screens.
/// <reference lib="webworker" />

import { clientsClaim } from "workbox-core";
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";
import { NetworkFirst } from "workbox-strategies";
import { API_CACHE, MEDIA_CACHE, cachesApiRead, mediaKey } from "./mediakey";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(new NavigationRoute(createHandlerBoundToURL("/")));

const sameOrigin = (url: URL) => url.origin === self.location.origin;

// Media and artwork: the downloaded copy when there is one, else the network (nothing is stored here:
// what is kept offline is the listener's choice, made in downloads.ts).
registerRoute(
  ({ url, request }) => sameOrigin(url) && request.method === "GET" && mediaKey(url.href) !== null,
  async ({ request }) => {
    const key = mediaKey(request.url) as string;
    const hit = await caches.match(key, { cacheName: MEDIA_CACHE });
    return hit ?? fetch(request);
  },
);

registerRoute(
  ({ url, request }) => sameOrigin(url) && request.method === "GET" && cachesApiRead(url.pathname),
  new NetworkFirst({ cacheName: API_CACHE }),
);

self.skipWaiting();
clientsClaim();
