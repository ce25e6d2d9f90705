// Playback reporting for royalties (docs/royalties.md): start, a heartbeat about every 10 s with the
// seconds actually heard since the last report, pause, seek, stop. The server judges every claim (caps
// by elapsed time, the 30-second rule); this module only measures honestly and delivers.
//
// "Seconds actually played" are the media clock's advances while playing: a seek is a jump, not
// listening, so only small forward steps between `timeupdate`s are counted.

import type { EventKind, PlaybackEvent } from "./api";

/** Where events go: the signed-in batch route, and the beacon for a page going away (api.ts). */
export interface EventSink {
  send(events: PlaybackEvent[]): Promise<unknown>;
  beacon(events: PlaybackEvent[]): boolean;
}

export const HEARTBEAT_MS = 10_000;
const MAX_STEP_SEC = 2; // timeupdate fires every ~250 ms; a larger step is a jump

function uuid(): string {
  return crypto.randomUUID();
}

export class PlaybackReport {
  private pending: PlaybackEvent[] = [];
  private inflight: PlaybackEvent[] = [];
  private unreported = 0; // seconds heard since the last event that carried seconds_played
  private lastTime: number | null = null;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private sending = false;
  private begun = false;

  constructor(
    readonly sessionId: string,
    readonly trackId: number,
    private quality: () => string,
    private sink: EventSink,
    private rate: () => number = () => 1, // the media element's playbackRate, reported when it is not 1
  ) {}

  /** The media clock moved to `t` (seconds) during normal playback. */
  advance(t: number): void {
    if (this.lastTime !== null) {
      const step = t - this.lastTime;
      if (step > 0 && step < MAX_STEP_SEC) this.unreported += step;
    }
    this.lastTime = t;
  }

  /** A seek is about to land at `t`: it is reported, and the jump is not counted. */
  seeked(t: number): void {
    this.push("seek", t);
    this.lastTime = t;
  }

  /** Audio is coming out (first time: the session's start; later: after a pause, a seek, a stall). */
  playing(t: number): void {
    this.lastTime = t;
    if (!this.begun) {
      this.begun = true;
      this.push("start", t);
    }
    this.beat();
  }

  paused(t: number): void {
    this.advance(t);
    clearInterval(this.heartbeat);
    this.push("pause", t);
  }

  stopped(t: number): void {
    this.advance(t);
    clearInterval(this.heartbeat);
    this.push("stop", t);
    void this.flush();
  }

  /** The page is going away or out of sight: report what was heard now, by beacon (no token needed).
   * A batch still in flight goes too: a fetch may die with the page, and the server stores an event
   * id once, so sending it twice costs nothing. */
  hide(t: number): void {
    this.advance(t);
    if (this.unreported > 0) this.push("progress", t, false);
    const all = this.inflight.concat(this.pending);
    if (all.length && this.sink.beacon(all)) this.pending = [];
  }

  private beat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.lastTime !== null) {
        this.push("progress", this.lastTime);
      }
    }, HEARTBEAT_MS);
  }

  private push(kind: EventKind, t: number, send = true): void {
    const event: PlaybackEvent = {
      id: uuid(),
      session_id: this.sessionId,
      kind,
      occurred_at: new Date().toISOString(),
      position_ms: Math.max(0, Math.round(t * 1000)),
      quality: this.quality(),
      track_id: this.trackId,
    };
    const rate = this.rate();
    if (rate !== 1 && rate > 0 && rate <= 16) event.playback_rate = rate;
    if (kind !== "start" && kind !== "seek") {
      event.seconds_played = Math.round(this.unreported * 1000) / 1000;
      this.unreported = 0;
    }
    this.pending.push(event);
    if (send) void this.flush();
  }

  /** Send what is pending; on failure keep it for the next attempt (a repeated event is stored once). */
  async flush(): Promise<void> {
    if (this.sending || !this.pending.length) return;
    this.sending = true;
    const batch = this.pending;
    this.pending = [];
    this.inflight = batch;
    let sent = false;
    try {
      await this.sink.send(batch);
      sent = true;
    } catch {
      this.pending = batch.concat(this.pending); // sent again with the next event or the beacon
    } finally {
      this.sending = false;
      this.inflight = [];
    }
    if (sent && this.pending.length) void this.flush();
  }
}
