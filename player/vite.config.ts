// The player is built into the Python package, which serves it at `/` (src/cadenza/web/static.py):
// index.html without caching, everything under /assets/ named by content hash and cached for a year.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "../src/cadenza/web/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
  },
});
