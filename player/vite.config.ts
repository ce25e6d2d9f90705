/// <reference types="node" />
// The player is built into the Python package, which serves it at `/` (src/cadenza/web/static.py):
// index.html without caching, everything under /assets/ named by content hash and cached for a year.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import { VitePWA } from "vite-plugin-pwa";

const OUT = new URL("../src/cadenza/web/static/", import.meta.url);

/** Brotli and gzip copies of the hashed scripts and styles, made once at build time at the highest
 * levels, which web/static.py sends to browsers that accept them: the shell's first load moves about a
 * third of the bytes (measured by bench/player.py), and the server compresses nothing per request. */
function precompress(): Plugin {
  return {
    name: "cadenza-precompress",
    apply: "build",
    closeBundle() {
      const assets = new URL("assets/", OUT);
      for (const name of readdirSync(assets)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const raw = readFileSync(new URL(name, assets));
        writeFileSync(new URL(`${name}.br`, assets), brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(new URL(`${name}.gz`, assets), gzipSync(raw, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  base: "/",
  build: {
    outDir: "../src/cadenza/web/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
  },
  plugins: [
    precompress(),
    // Offline: a web app manifest and the service worker built from src/sw.ts (Workbox precaching with
    // this build's file list injected). The app registers it itself (pwa.ts), so no registerSW.js.
    VitePWA({
      strategies: "injectManifest",
      srcDir: "src",
      filename: "sw.ts",
      injectRegister: false,
      manifest: {
        name: "Cadenza",
        short_name: "Cadenza",
        description: "Listen to your Cadenza library, online and offline.",
        start_url: "/",
        scope: "/",
        display: "standalone",
        background_color: "#121317",
        theme_color: "#1c1e24",
        icons: [
          { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "/icons/icon-512-maskable.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      injectManifest: {
        globPatterns: ["**/*.{js,css,html}"], // the plugin adds the manifest and its icons
        // The server answers the shell at `/` (no /index.html route): precache it under that URL.
        manifestTransforms: [
          async (entries) => ({
            manifest: entries.map((e) => (e.url === "index.html" ? { ...e, url: "/" } : e)),
            warnings: [],
          }),
        ],
      },
    }),
  ],
});
