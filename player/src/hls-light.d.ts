// hls.js ships one set of types for its full and light builds, but maps them to "." only.
declare module "hls.js/light" {
  export * from "hls.js";
  export { default } from "hls.js";
}
