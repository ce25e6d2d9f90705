// The audio element and how it gets its stream: hls.js over Media Source Extensions where the browser
// has them (adaptive bit rate we can observe and show), the browser's own HLS where it has no MSE
// (Safari on iPhone). Position, quality and errors go to the store; playback events to the report.

// The light build: no subtitles, alternate audio, EME or CMCD, none of which Cadenza serves (~40 % smaller).
import Hls, { type Level } from "hls.js/light";
import { api, ApiError, type StreamGrant } from "./api";
import { currentTrack, getState, update } from "./store";
import { PlaybackReport } from "./reporting";
import { streamGrant } from "./downloads"; // offline: the grant kept with a download
import { eventSink } from "./outbox"; // undelivered events wait in the outbox

/** The server's name of a level ("aac_256"), read from its playlist path; else its bit rate. */
function levelName(level: Level | undefined): string | null {
  if (!level) return null;
  const found = /\/([a-z0-9_]+)\/[^/]*\.m3u8/i.exec(level.url[0] ?? "");
  return found ? found[1] : `${Math.round(level.bitrate / 1000)} kbps`;
}

class Player {
  readonly audio: HTMLAudioElement;
  hls: Hls | null = null;
  private report: PlaybackReport | null = null;
  private grant: StreamGrant | null = null;
  private loadSeq = 0;
  onEnded: () => void = () => {};

  constructor() {
    this.audio = document.createElement("audio");
    this.audio.preload = "auto";
    this.audio.volume = getState().volume;
    const a = this.audio;
    a.addEventListener("timeupdate", () => {
      if (!a.seeking && !a.paused) this.report?.advance(a.currentTime);
      update({ position: a.currentTime });
    });
    a.addEventListener("durationchange", () => {
      if (Number.isFinite(a.duration)) update({ duration: a.duration });
    });
    a.addEventListener("play", () => update({ playing: true }));
    a.addEventListener("playing", () => this.report?.playing(a.currentTime));
    a.addEventListener("pause", () => {
      update({ playing: false });
      if (!a.ended) this.report?.paused(a.currentTime);
    });
    a.addEventListener("ended", () => {
      this.report?.stopped(a.currentTime);
      this.report = null;
      this.onEnded();
    });
    a.addEventListener("volumechange", () => {
      update({ volume: a.volume });
      localStorage.setItem("cadenza.volume", String(a.volume));
    });
    a.addEventListener("error", () => {
      if (a.error) update({ notice: "This track cannot be played right now.", playing: false });
    });
    const hidden = () => this.report?.hide(a.currentTime);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") hidden();
    });
    window.addEventListener("pagehide", hidden);
  }

  /** Ask the server for the current track's stream (it decides rights and territory), then play it. */
  async playCurrent(): Promise<void> {
    const track = currentTrack();
    if (!track) return;
    const seq = ++this.loadSeq;
    this.finishSession();
    update({ notice: null, waveform: null, position: 0, duration: track.duration_sec ?? 0, quality: null });
    let grant: StreamGrant;
    try {
      grant = await streamGrant(track.id);
    } catch (e) {
      if (seq !== this.loadSeq) return;
      const notice =
        e instanceof ApiError && e.status === 451
          ? "Not available in your country."
          : `This track cannot be played: ${e instanceof Error ? e.message : e}`;
      update({ notice, playing: false });
      return;
    }
    if (seq !== this.loadSeq) return;
    this.grant = grant;
    update({ duration: grant.duration_sec });
    if (grant.waveform_url) {
      api.waveform(grant.waveform_url).then(
        (peaks) => seq === this.loadSeq && update({ waveform: peaks }),
        () => {}, // no waveform: the bar shows a plain progress line
      );
    }
    this.attach(grant.hls_url);
    this.report = new PlaybackReport(grant.session_id, grant.track_id, () => this.reportedQuality(), eventSink,
      () => this.audio.playbackRate);
    try {
      await this.audio.play();
    } catch (e) {
      if (seq === this.loadSeq && !(e instanceof DOMException && e.name === "AbortError")) {
        update({ notice: "Press play to start listening.", playing: false });
      }
    }
  }

  private attach(url: string): void {
    this.hls?.destroy();
    this.hls = null;
    if (Hls.isSupported()) {
      const hls = new Hls({ startLevel: 0 }); // the lightest level gives the first audio soonest; ABR climbs
      hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => update({ quality: levelName(hls.levels[data.level]) }));
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          update({ notice: "Connection lost: retrying…" });
          hls.startLoad();
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          update({ notice: "This track cannot be played right now.", playing: false });
        }
      });
      hls.on(Hls.Events.FRAG_LOADED, () => {
        if (getState().notice === "Connection lost: retrying…") update({ notice: null });
      });
      hls.loadSource(url);
      hls.attachMedia(this.audio);
      this.hls = hls;
    } else {
      this.audio.src = url; // the browser's own HLS
      update({ quality: "HLS (browser)" });
    }
  }

  /** The quality for the royalty events, in the server's names ("hls" when the level is unknown). */
  private reportedQuality(): string {
    const name = this.hls ? levelName(this.hls.levels[this.hls.currentLevel]) : null;
    return name && /^[a-z]+_\d+$/.test(name) ? name : "hls";
  }

  private finishSession(): void {
    if (this.report) {
      this.report.stopped(this.audio.currentTime);
      this.report = null;
    }
  }

  toggle(): void {
    if (!this.grant) return void this.playCurrent();
    if (this.audio.paused) void this.audio.play().catch(() => {});
    else this.audio.pause();
  }

  seek(seconds: number): void {
    const duration = getState().duration || this.audio.duration;
    const t = Math.max(0, Math.min(seconds, Number.isFinite(duration) ? duration - 0.05 : seconds));
    this.report?.seeked(t);
    this.audio.currentTime = t;
    update({ position: t });
  }

  setVolume(v: number): void {
    this.audio.volume = Math.max(0, Math.min(1, v));
  }

  stop(): void {
    this.finishSession();
    this.audio.pause();
    this.hls?.destroy();
    this.hls = null;
    this.grant = null;
    this.audio.removeAttribute("src");
    update({ playing: false, position: 0 });
  }
}

export const player = new Player();
