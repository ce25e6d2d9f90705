// The player is built into the Python package, which serves it at `/` (src/cadenza/web/static.py):
// index.html without caching, everything under /assets/ named by content hash and cached for a year.
import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

export default defineConfig({
  base: "/",
  build: {
    outDir: "../src/cadenza/web/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
  },
  plugins: [
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
