"""What the click-to-first-audio measurements share (tests/e2e/test_player_start.py, bench/player.py)."""

# Emulated 4G for CDP's Network.emulateNetworkConditions: 40 ms latency, 10 Mbit/s each way.
FOUR_G = {"offline": False, "latency": 40, "downloadThroughput": 10e6 / 8, "uploadThroughput": 10e6 / 8}

# The click's time (capture phase, before the app's handler) and the audio's first `playing`.
CLICK_PROBE = """() => {
  window.__click = null; window.__playing = null;
  performance.clearResourceTimings();
  const now = () => performance.now();
  document.addEventListener('click', () => { window.__click ??= now(); }, { capture: true, once: true });
  const audio = document.querySelector('audio');
  audio.addEventListener('playing', () => { window.__playing ??= now(); }, { once: true });
}"""
