// The audio element and how it gets its stream: the gapless engine (engine/mse.ts: one MediaSource for
// consecutive tracks, adaptive bit rate, token renewal) where the browser has Media Source Extensions
// for AAC in MP4, the browser's own HLS where it has not (Safari on iPhone). The element plays through
// a Web Audio graph whose gain is the loudness normalisation (loudness.ts). Position, quality and
// errors go to the store; playback events to the report.

import { api, ApiError, type StreamGrant, type Track } from "./api";
import { GaplessEngine, type Entry, type Source } from "./engine/mse";
import { dbToLinear, gainDb } from "./loudness";
import { nextIndex } from "./playOrder";
import { PlaybackReport } from "./reporting";
import { currentTrack, getState, update } from "./store";
import { streamGrant } from "./downloads"; // offline: the grant kept with a download
import { eventSink } from "./outbox"; // undelivered events wait in the outbox
import { startHints } from "./prefetch";

/** What one track on the timeline carries: its queue item and its stream grant. */
export interface Playing {
  track: Track;
  grant: StreamGrant;
}

const RETRYING = "Connection lost: retrying…";

class Player {
  readonly audio: HTMLAudioElement;
  readonly engine: GaplessEngine<Playing> | null;
  private report: PlaybackReport | null = null;
  private playing: Playing | null = null;
  private loadSeq = 0;
  private context: AudioContext | null = null;
  private gain: GainNode | null = null;
  private heard = 0; // the position at the last clock tick, in the track it belonged to
  private scheduledFor: number | null = null; // the track whose gain is scheduled at its join
  onEnded: () => void = () => {};
  onChange: (p: Playing) => void = () => {};

  constructor() {
    this.audio = document.createElement("audio");
    this.audio.preload = "auto";
    this.audio.volume = getState().volume;
    this.engine = GaplessEngine.supported()
      ? new GaplessEngine<Playing>(this.audio, {
          upcoming: (after) => this.upcoming(after),
          onEntry: (entry) => this.entered(entry),
          onLevel: (name) => update({ quality: name }),
          onError: (message) => update({ notice: message }),
          onLicenceError: (e) => this.refused(e),
          pinned: () => (getState().qualityPin === "auto" ? null : getState().qualityPin),
        })
      : null;
    const a = this.audio;
    a.addEventListener("timeupdate", () => {
      // While a play waits for its stream grant and its run (`playing` is null then), the element still
      // plays the track before: that position is not the new track's. The store keeps the 0 the play
      // set; otherwise "previous" pressed then restarted the last track's position instead of going back
      // a track (the window is the grant's round trip: seen on a loaded machine).
      if (!this.playing) return;
      const position = this.position();
      this.heard = position;
      if (!a.seeking && !a.paused) this.report?.advance(position);
      update({ position });
      this.scheduleJoinGain();
      if (getState().notice === RETRYING && !a.paused && !a.seeking) update({ notice: null });
    });
    a.addEventListener("play", () => {
      update({ playing: true });
      void this.context?.resume();
    });
    a.addEventListener("playing", () => this.report?.playing(this.position()));
    a.addEventListener("pause", () => {
      update({ playing: false });
      if (!a.ended) this.report?.paused(this.position());
    });
    a.addEventListener("ended", () => {
      this.report?.stopped(this.position());
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
    const hidden = () => this.report?.hide(this.position());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") hidden();
    });
    window.addEventListener("pagehide", hidden);
  }

  /** Seconds into the track playing (the engine's timeline holds several). */
  position(): number {
    return this.engine ? this.engine.position() : this.audio.currentTime;
  }

  /** The Web Audio graph's last node, for anything that listens to what is played (tests, meters). */
  output(): AudioNode | null {
    return this.gain;
  }

  /** Ask the server for the current track's stream (it decides rights and territory), then play it. */
  async playCurrent(): Promise<void> {
    const track = currentTrack();
    if (!track) return;
    const seq = ++this.loadSeq;
    this.ensureGraph(); // inside the listener's gesture, so that the context may start
    if (this.engine?.jumpTo(track.id)) {
      // At its start now: "previous" pressed at once must go back a track, not restart this one (the
      // position would otherwise be the last track's until the next timeupdate).
      update({ position: 0 });
      void this.audio.play().catch(() => {}); // prefetched: its audio is already in the buffer
      return;
    }
    this.finishSession();
    this.playing = null;
    update({ notice: null, waveform: null, position: 0, duration: track.duration_sec ?? 0, quality: null });
    let grant: StreamGrant;
    try {
      grant = await streamGrant(track.id);
    } catch (e) {
      if (seq !== this.loadSeq) return;
      this.cannotPlay(
        e instanceof ApiError && e.status === 451
          ? "Not available in your country."
          : `This track cannot be played: ${e instanceof Error ? e.message : e}`,
      );
      return;
    }
    if (seq !== this.loadSeq) return;
    if (this.engine) {
      try {
        await this.engine.start(this.sourceOf({ track, grant }));
      } catch (e) {
        if (seq === this.loadSeq) this.cannotPlay("This track cannot be played right now.");
        return;
      }
    } else if (grant.licence_url) {
      // The browser's own HLS (Safari) takes `cbcs` from FairPlay, not the `cenc` set Cadenza serves.
      this.cannotPlay("This browser cannot play protected tracks.");
      return;
    } else {
      this.audio.src = grant.hls_url; // the browser's own HLS
      update({ quality: "HLS (browser)" });
      this.begin({ track, grant });
    }
    if (seq !== this.loadSeq) return;
    try {
      await this.audio.play();
    } catch (e) {
      if (seq === this.loadSeq && !(e instanceof DOMException && e.name === "AbortError")) {
        update({ notice: "Press play to start listening.", playing: false });
      }
    }
  }

  /** The track asked for cannot play: stop what the element still plays (the track before it, whose
   * session is already finished; it went on under the new title) and say why. */
  private cannotPlay(notice: string): void {
    this.engine?.stop();
    this.audio.pause();
    update({ notice, playing: false });
  }

  private sourceOf(p: Playing): Source<Playing> {
    return {
      id: p.track.id,
      masterUrl: p.grant.hls_url,
      durationSec: p.grant.duration_sec,
      // A fresh grant is a fresh master URL with a fresh token for the track's segments.
      renew: async () => (await api.stream(p.track.id)).hls_url,
      licence: p.grant.licence_url ? (request) => api.licence(p.grant.licence_url as string, request) : null,
      payload: p,
      start: startHints(p.grant), // what the grant carried: the first segment is the only request left
    };
  }

  /** The queue's next track after `after`, if `after` is the one playing now, by the queue's own rule
   * (playOrder.nextIndex: unavailable tracks skipped). Repeat one and the wrap of repeat all are left to
   * the queue when the track ends (`onEnded`): the timeline only runs forward through the queue. */
  private upcoming(after: Source<Playing>) {
    const { queue, current, repeat } = getState();
    if (queue[current]?.id !== after.id || repeat === "one") return null;
    if (after.payload.grant.licence_url) return null; // a protected track plays in a run of its own
    const at = nextIndex(queue.length, current, repeat, true, (i) => queue[i]?.available !== false);
    if (at <= current) return null;
    const track = queue[at];
    if (!track) return null;
    return {
      id: track.id,
      open: async () => this.sourceOf({ track, grant: await streamGrant(track.id) }),
    };
  }

  /** The playhead entered a track: the queue, the report, the waveform and the gain follow. */
  private entered(entry: Entry<Playing>): void {
    const p = entry.source.payload;
    if (this.playing?.grant.session_id === p.grant.session_id) return;
    update({ levels: entry.levels.map((l) => l.name) });
    const { queue, current } = getState();
    if (queue[current]?.id !== p.track.id) {
      const i = queue.findIndex((t, i) => i > current && t.id === p.track.id);
      if (i >= 0) update({ current: i });
    }
    this.begin(p);
    if (!this.audio.paused) this.report?.playing(this.position());
  }

  private begin(p: Playing): void {
    // The playhead is already in the new track: the old one stopped where it was last heard, or at its
    // end when it played into the join (the last ~250 ms between clock ticks were heard too).
    let at: number | undefined;
    if (this.playing && this.playing !== p) {
      const end = this.playing.grant.duration_sec;
      at = this.heard > end - 1 ? end : this.heard;
      if (at === end && !this.audio.paused) this.report?.advance(end);
    }
    this.finishSession(at);
    this.playing = p;
    this.scheduledFor = null;
    const seq = this.loadSeq;
    update({ notice: null, duration: p.grant.duration_sec, waveform: null });
    if (p.grant.waveform_url) {
      api.waveform(p.grant.waveform_url).then(
        (peaks) => seq === this.loadSeq && this.playing === p && update({ waveform: peaks }),
        () => {}, // no waveform: the bar shows a plain progress line
      );
    }
    this.report = new PlaybackReport(p.grant.session_id, p.grant.track_id, () => this.reportedQuality(), eventSink,
      () => this.audio.playbackRate);
    this.applyGain();
    this.onChange(p);
  }

  /** A protected track's key was not had: say why in the listener's words and let go of the run (Play asks
   * for a fresh grant and licence). */
  private refused(e: unknown): void {
    const status = e instanceof ApiError ? e.status : 0;
    const notice =
      status === 451
        ? "Not available in your country: the licence for this protected track was refused."
        : status === 403 || status === 401
          ? "The licence for this protected track was refused: press play to ask again."
          : status === 404
            ? "This protected track has no key to give: it cannot be played."
            : e instanceof DOMException && e.name === "NotSupportedError"
              ? "This browser cannot play protected tracks (no Clear Key decryption)."
              : `This protected track cannot be decrypted here: ${e instanceof Error ? e.message : e}`;
    this.loadSeq++;
    this.finishSession();
    this.playing = null;
    this.engine?.stop();
    this.audio.pause();
    update({ notice, playing: false });
  }

  /** The quality for the royalty events, in the server's names ("hls" when the level is unknown). */
  private reportedQuality(): string {
    const name = getState().quality;
    return name && /^[a-z]+_\d+$/.test(name) ? name : "hls";
  }

  private finishSession(at: number = this.position()): void {
    if (this.report) {
      this.report.stopped(at);
      this.report = null;
    }
  }

  // -- loudness ------------------------------------------------------------------------------------

  private ensureGraph(): void {
    if (this.context || typeof AudioContext === "undefined") return;
    try {
      const context = new AudioContext();
      const source = context.createMediaElementSource(this.audio);
      const gain = context.createGain();
      source.connect(gain).connect(context.destination);
      this.context = context;
      this.gain = gain;
      this.applyGain();
    } catch {
      // no Web Audio: played without normalisation
    }
  }

  /** The linear gain for a track in the listener's mode (loudness.ts); fetched figures if missing. */
  private gainOf(track: Track): number {
    if (track.loudness === undefined) {
      track.loudness = null; // asked once
      api.track(track.id).then(
        (full) => {
          track.loudness = full.loudness ?? null;
          if (this.playing?.track === track) this.applyGain();
        },
        () => {},
      );
    }
    return dbToLinear(gainDb(getState().normalise, track.loudness));
  }

  /** Set the gain for the track playing now (a mode change, a new track, a jump). */
  applyGain(): void {
    if (!this.gain || !this.context || !this.playing) return;
    const g = this.gainOf(this.playing.track);
    this.gain.gain.cancelScheduledValues(0);
    this.gain.gain.setValueAtTime(g, this.context.currentTime);
    this.scheduledFor = null;
  }

  /** Near a gapless join, schedule the next track's gain for the moment its first sample plays. */
  private scheduleJoinGain(): void {
    const engine = this.engine;
    if (!engine || !this.gain || !this.context) return;
    const cur = engine.current();
    const next = cur ? engine.entries[engine.entries.indexOf(cur) + 1] : undefined;
    if (!next || this.scheduledFor === next.source.id) return;
    const ahead = (next.placement.start - this.audio.currentTime) / (this.audio.playbackRate || 1);
    if (ahead > 1 || ahead < 0) return;
    const g = this.gainOf(next.source.payload.track);
    this.gain.gain.setValueAtTime(g, this.context.currentTime + ahead);
    this.scheduledFor = next.source.id;
  }

  setNormalise(mode: "track" | "album" | "off"): void {
    localStorage.setItem("cadenza.normalise", mode);
    update({ normalise: mode });
    this.applyGain();
  }

  setQualityPin(pin: string): void {
    localStorage.setItem("cadenza.quality", pin);
    update({ qualityPin: pin });
  }

  // -- transport -----------------------------------------------------------------------------------

  toggle(): void {
    if (!this.playing && !this.engine?.current()) return void this.playCurrent();
    this.ensureGraph();
    if (this.audio.paused) void this.audio.play().catch(() => {});
    else this.audio.pause();
  }

  seek(seconds: number): void {
    const duration = getState().duration;
    const t = Math.max(0, Math.min(seconds, duration > 0 ? duration - 0.05 : seconds));
    this.report?.seeked(t);
    if (this.engine) this.engine.seek(t);
    else this.audio.currentTime = t;
    update({ position: t });
  }

  setVolume(v: number): void {
    this.audio.volume = Math.max(0, Math.min(1, v));
  }

  stop(): void {
    this.finishSession();
    this.audio.pause();
    this.engine?.stop();
    this.playing = null;
    this.audio.removeAttribute("src");
    this.audio.load();
    update({ playing: false, position: 0 });
  }
}

export const player = new Player();
