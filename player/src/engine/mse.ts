// The gapless engine: one MediaSource and one SourceBuffer for a run of consecutive tracks.
//
// Why not hls.js for everything: hls.js gives each track its own MediaSource (or joins tracks only at
// playlist discontinuities, without trimming the AAC encoder's priming and padding), so the join between
// two tracks is a gap of tens of milliseconds and a click. Here every track of the queue is placed on one
// timeline (engine/trim.ts): its segments are appended with `timestampOffset` moving its first heard
// sample to the previous track's last, and `appendWindowStart/End` cutting the priming frame and the tail
// padding at sample precision, so the decoder plays one continuous stream. The next track is prefetched
// while the current one plays (its stream grant is asked for then, not at the join).
//
// Adaptive bit rate is kept: every segment is fetched from the level chosen by engine/abr.ts (the
// lightest for a play's first segment, the soonest audio whatever was measured before, then the highest
// the measured throughput carries, or the listener's pinned level); a level change appends that level's
// init segment, the timeline does not move. Signed URLs are renewed before they expire (or after a 403):
// the track's stream route gives a fresh master, whose token goes into every later URL (engine/token.ts).
//
// A play starts from what its stream grant carries when it carries it (`StartHints`: the master, the
// lightest level's playlist and init section, and the first segment if prefetch.ts asked for it on
// hover), so its one request before audio is the first segment, asked for while the MediaSource opens.
//
// Protected tracks (cenc CMAF, the same segments as their DASH MPD) are appended as they are, with the
// browser's Clear Key CDM decrypting them (engine/eme.ts); such a track plays in a run of its own.

import { BandwidthEstimator, chooseLevel } from "./abr";
import { ClearKey, type LicenceFetch } from "./eme";
import { timescaleOf, wholeLastFrame } from "./mp4";
import { parseMaster, parseMedia, segmentAt, type Level, type MediaPlaylist } from "./playlist";
import { tokenOf, withToken } from "./token";
import { AAC_FRAME_SAMPLES, AAC_PRIMING_SAMPLES, heardSamples, place, type Placement } from "./trim";

export const MIME = 'audio/mp4; codecs="mp4a.40.2"';
const BUFFER_AHEAD_SEC = 12; // how far ahead of the playhead to fetch (the next track included)
const BUFFER_BEHIND_SEC = 30; // played audio kept for small seeks back
const RENEW_BEFORE_SEC = 10; // a token with less validity left is renewed before the next fetch
const IDLE_MS = 200;

/** What the engine needs to play a track: its master URL and a way to get a fresh one. */
export interface Source<P> {
  id: number;
  masterUrl: string;
  durationSec: number | null; // the catalogue's, to the microsecond: the heard samples (engine/trim.ts)
  renew: () => Promise<string>;
  /** A protected track's licence exchange (engine/eme.ts); absent for a clear one. */
  licence?: LicenceFetch | null;
  payload: P;
  start?: StartHints; // what the grant carried to start with (the server's delivery/start.py)
}

/** Bytes fetched, and how long the fetch took (for the throughput estimate). */
export interface Fetched {
  bytes: ArrayBuffer;
  ms: number;
}

/** What answers the first requests of a play would bring, already in hand: the master's text (signed),
 *  the URL, text and init section of the level the play starts on, and perhaps its first segment being
 *  fetched (URLs as the playlists name them). */
export interface StartHints {
  master: string;
  levelUrl: string;
  level: string;
  init: ArrayBuffer;
  first?: { url: string; fetched: Promise<Fetched> };
}

export interface Entry<P> {
  source: Source<P>;
  levels: Level[];
  playlists: (MediaPlaylist | null)[];
  placement: Placement;
  token: { token: string; expires: number } | null;
  next: number; // the next segment to append
  done: boolean;
}

export interface EngineHooks<P> {
  /** The track to join after the one with `id` (null: none, stop there). */
  upcoming(after: Source<P>): { id: number; open: () => Promise<Source<P>> } | null;
  /** The playhead entered another track (also for the first). */
  onEntry(entry: Entry<P>): void;
  /** The level now audible changed. */
  onLevel(name: string): void;
  onError(message: string): void;
  /** A protected track's key could not be had (the licence refused, no Clear Key here). */
  onLicenceError?(error: unknown): void;
  /** The listener's pinned level ("aac_256"), or null for automatic. */
  pinned(): string | null;
}

interface Appended {
  from: number;
  to: number;
  level: string;
}

class Cancelled extends Error {}

export class GaplessEngine<P> {
  entries: Entry<P>[] = [];
  readonly bandwidth = new BandwidthEstimator();
  private ms: MediaSource | null = null;
  private sb: SourceBuffer | null = null;
  private gen = 0;
  private sbEntry: Entry<P> | null = null; // whose offset and windows the SourceBuffer holds
  private sbLevel = -1; // whose init segment was last appended
  private level = -1;
  private appended: Appended[] = [];
  private playing: Entry<P> | null = null;
  private audibleLevel: string | null = null;
  private opening: number | null = null; // the id of the next track being opened
  private unplayable = new Set<number>(); // next tracks whose grant was refused (or protected): not joined
  private readonly keys: ClearKey;
  private ready = new Map<string, Promise<Fetched>>(); // fetched or being fetched ahead, by playlist URL
  private startLevel: { entry: Entry<P>; level: number } | null = null; // a play's first segment's level
  private firstBody: { url: string; response: Promise<Response>; t0: number } | null = null; // appended as it arrives
  private fetches = new AbortController(); // the run's requests: a new play or a stop cancels them

  constructor(
    private readonly audio: HTMLAudioElement,
    private readonly hooks: EngineHooks<P>,
  ) {
    audio.addEventListener("timeupdate", () => this.watchPlayhead());
    audio.addEventListener("seeking", () => this.watchPlayhead());
    this.keys = new ClearKey(audio, (e) => this.hooks.onLicenceError?.(e), MIME);
  }

  static supported(): boolean {
    return typeof MediaSource !== "undefined" && MediaSource.isTypeSupported(MIME);
  }

  /** Start a new run with `source` at `at` seconds into it. */
  async start(source: Source<P>, at = 0): Promise<void> {
    const gen = ++this.gen;
    this.cancelFetches(); // the last run's segments would share the link with this play's first one
    this.entries = [];
    this.appended = [];
    this.playing = null;
    this.audibleLevel = null;
    this.sbEntry = null;
    this.sbLevel = -1;
    this.opening = null;
    this.unplayable.clear();
    this.ready.clear();
    this.dropFirstBody();
    if (source.licence) {
      try {
        await this.keys.prepare(source.licence); // MediaKeys on the element before its source
      } catch (e) {
        this.hooks.onLicenceError?.(e); // no Clear Key here
        throw e;
      }
      if (gen !== this.gen) return;
    } else this.keys.reset();
    const ms = new MediaSource();
    this.ms = ms;
    this.sb = null;
    const opened = new Promise((resolve) => ms.addEventListener("sourceopen", resolve, { once: true }));
    if (this.audio.src.startsWith("blob:")) URL.revokeObjectURL(this.audio.src);
    this.audio.src = URL.createObjectURL(ms);
    const entry = await this.open(source, 0, true);
    if (gen !== this.gen) return; // a later play replaced this one while it opened
    const level = entry.playlists.findIndex(Boolean);
    const playlist = entry.playlists[level] as MediaPlaylist;
    entry.next = segmentAt(playlist, at + AAC_PRIMING_SAMPLES / entry.placement.rate);
    this.startLevel = { entry, level };
    // The first segment is asked for now, while the MediaSource opens (unless the hover asked already),
    // and appended as its bytes arrive: audio can start on its first fraction of a second.
    const url = playlist.segments[entry.next].url;
    if (this.ready.has(url) || entry.next === playlist.segments.length - 1) this.ahead(entry, url);
    else {
      const response = this.signedFetch(entry, url);
      response.catch(() => {}); // fetched again when appended
      this.firstBody = { url, response, t0: performance.now() };
    }
    await opened;
    if (gen !== this.gen) return;
    this.sb = ms.addSourceBuffer(MIME);
    this.entries = [entry];
    this.setDuration(entry.placement.end);
    if (at > 0) this.audio.currentTime = entry.placement.start + at;
    this.watchPlayhead();
    void this.run(gen);
  }

  /** Stop and let go of the MediaSource. */
  stop(): void {
    this.gen++;
    this.cancelFetches();
    this.entries = [];
    this.playing = null;
    this.ms = null;
    this.sb = null;
    this.keys.reset();
  }

  /** The entry under the playhead. */
  current(): Entry<P> | null {
    return this.entryAt(this.audio.currentTime);
  }

  /** Seconds into the current track. */
  position(): number {
    const e = this.current();
    return e ? Math.max(0, this.audio.currentTime - e.placement.start) : 0;
  }

  /** Move the playhead into the prefetched track `id`, if it is on the timeline after the current one. */
  jumpTo(id: number): boolean {
    const cur = this.current();
    const i = cur ? this.entries.indexOf(cur) : -1;
    const target = this.entries.slice(i + 1).find((e) => e.source.id === id);
    if (!target) return false;
    this.seekTo(target, 0);
    return true;
  }

  /** Seek to `t` seconds into the current track. */
  seek(t: number): void {
    const e = this.current();
    if (e) this.seekTo(e, t);
  }

  private seekTo(e: Entry<P>, t: number): void {
    const seconds = Math.max(0, Math.min(t, e.placement.end - e.placement.start - 0.05));
    const target = e.placement.start + seconds;
    if (this.isBuffered(target)) {
      this.audio.currentTime = target;
      return;
    }
    // Not fetched yet: drop what is buffered and fetch from the segment holding `target`.
    const gen = ++this.gen;
    this.entries = this.entries.slice(0, this.entries.indexOf(e) + 1);
    e.done = false;
    const playlist = e.playlists.find(Boolean) as MediaPlaylist;
    e.next = segmentAt(playlist, seconds + AAC_PRIMING_SAMPLES / e.placement.rate);
    this.appended = [];
    this.audio.currentTime = target;
    void (async () => {
      await this.idle();
      if (gen !== this.gen || !this.sb || this.ms?.readyState === "closed") return;
      // abort() throws unless the source is open; an ended source is appending nothing to abort
      if (this.ms?.readyState === "open") this.sb.abort();
      this.sbEntry = null;
      this.sbLevel = -1;
      this.sb.remove(0, Infinity);
      await this.idle();
      if (gen !== this.gen) return;
      this.setDuration(e.placement.end, true);
      void this.run(gen);
    })();
  }

  private entryAt(t: number): Entry<P> | null {
    let found: Entry<P> | null = null;
    for (const e of this.entries) if (e.placement.start <= t + 1e-4) found = e;
    return found ?? this.entries[0] ?? null;
  }

  private watchPlayhead(): void {
    const t = this.audio.currentTime;
    const e = this.entryAt(t);
    if (e && e !== this.playing) {
      this.playing = e;
      this.hooks.onEntry(e);
    }
    const a = this.appended.find((x) => x.from <= t + 1e-3 && t < x.to);
    if (a && a.level !== this.audibleLevel) {
      this.audibleLevel = a.level;
      this.hooks.onLevel(a.level);
    }
  }

  /** Fetch, renew and append until the run is replaced. */
  private async run(gen: number): Promise<void> {
    let failures = 0;
    while (gen === this.gen) {
      try {
        const worked = await this.step(gen);
        failures = 0;
        if (!worked) await sleep(IDLE_MS);
      } catch (e) {
        if (e instanceof Cancelled || gen !== this.gen) return;
        failures++;
        if (failures === 3) this.hooks.onError("Connection lost: retrying…");
        await sleep(Math.min(500 * 2 ** failures, 8000));
      }
    }
  }

  /** One unit of work; false when there was nothing to do. */
  private async step(gen: number): Promise<boolean> {
    const ms = this.ms;
    if (!ms || !this.sb || ms.readyState === "closed") return false;
    const now = this.audio.currentTime;
    const cur = this.entryAt(now);
    if (!cur) return false;
    this.dropStaleNext(cur);
    if (this.bufferedEnd(now) - now >= BUFFER_AHEAD_SEC) {
      await this.pruneBehind(now);
      return false;
    }
    const pending = this.entries.slice(this.entries.indexOf(cur)).find((e) => !e.done);
    if (pending) {
      await this.appendNext(pending, gen);
      return true;
    }
    const last = this.entries[this.entries.length - 1];
    const next = this.hooks.upcoming(last.source);
    const up = next && !this.unplayable.has(next.id) ? next : null;
    if (up && this.opening !== up.id) {
      this.opening = up.id;
      try {
        const source = await up.open();
        // A protected track is not joined to another (its keys are its run's): the queue starts it.
        if (source.licence || last.source.licence) throw new Error("not joined: protected");
        const entry = await this.open(source, last.placement.end);
        if (gen !== this.gen) throw new Cancelled();
        if (this.hooks.upcoming(last.source)?.id === source.id) this.entries.push(entry);
      } catch (e) {
        if (e instanceof Cancelled || gen !== this.gen) throw e;
        // Not playable (a refused grant, a broken stream): the run ends before it, and the queue's
        // own step to it will say why.
        this.unplayable.add(up.id);
      } finally {
        this.opening = null;
      }
      return true;
    }
    if (!up && ms.readyState === "open" && !this.sb.updating) {
      await this.idle();
      if (gen === this.gen && ms.readyState === "open") ms.endOfStream();
    }
    return false;
  }

  /** The listener changed what comes next: forget a prefetched track that no longer follows. */
  private dropStaleNext(cur: Entry<P>): void {
    const i = this.entries.indexOf(cur);
    const next = this.entries[i + 1];
    if (!next) return;
    if (this.hooks.upcoming(cur.source)?.id === next.source.id) return;
    this.entries = this.entries.slice(0, i + 1);
    this.appended = this.appended.filter((a) => a.from < cur.placement.end);
    const gen = this.gen;
    void (async () => {
      await this.idle();
      if (gen !== this.gen || !this.sb || this.ms?.readyState === "closed") return;
      if (this.sbEntry === next) {
        this.sbEntry = null;
        if (this.ms?.readyState === "open") this.sb.abort();
      }
      this.sb.remove(cur.placement.end, Infinity);
      await this.idle();
      this.setDuration(cur.placement.end, true);
    })();
  }

  /** Fetch a track's master, one level's playlist and init: enough to place it on the timeline. A play
   *  (`fresh`) opens on the lightest level (or the pinned one), from its start hints when it has them. */
  private async open(source: Source<P>, start: number, fresh = false): Promise<Entry<P>> {
    const hints = source.start;
    const masterText = hints ? hints.master : await (await this.fetchOk(source.masterUrl)).text();
    const levels = parseMaster(masterText, new URL(source.masterUrl, location.href).toString());
    if (!levels.length) throw new Error("the stream has no levels");
    const token = tokenOf(levels[0].url);
    const first = chooseLevel(levels, fresh ? null : this.bandwidth.estimate, this.level, this.hooks.pinned());
    const url = levels[first].url;
    const hinted = hints && new URL(hints.levelUrl, location.href).toString() === url ? hints : null;
    const playlist = parseMedia(hinted ? hinted.level : await (await this.fetchOk(url)).text(), url);
    const init = hinted ? hinted.init : await (await this.fetchOk(playlist.initUrl)).arrayBuffer();
    this.keep(playlist.initUrl, Promise.resolve({ bytes: init, ms: 0 })); // appended with the first segment
    if (hinted?.first) this.keep(hinted.first.url, hinted.first.fetched);
    const rate = timescaleOf(init) ?? 44_100;
    const playlists: (MediaPlaylist | null)[] = levels.map(() => null);
    playlists[first] = playlist;
    const placement = place(start, heardSamples(source.durationSec, playlist.total, rate), rate);
    return { source, levels, playlists, placement, token, next: 0, done: false };
  }

  private async appendNext(e: Entry<P>, gen: number): Promise<void> {
    const starting = this.startLevel?.entry === e ? this.startLevel : null;
    const level = starting ? starting.level : chooseLevel(e.levels, this.bandwidth.estimate, this.level, this.hooks.pinned());
    const playlist = e.playlists[level] ?? (e.playlists[level] = parseMedia(
      await (await this.signedFetch(e, e.levels[level].url)).text(),
      e.levels[level].url,
    ));
    const seg = playlist.segments[Math.min(e.next, playlist.segments.length - 1)];
    const needInit = this.sbEntry !== e || this.sbLevel !== level;
    const init = needInit ? (await this.take(e, playlist.initUrl)).bytes : null;
    const streamed = this.firstBody?.url === seg.url ? this.firstBody : null;
    this.dropFirstBody(streamed);
    const got = streamed ? null : await this.take(e, seg.url);
    if (got && got.ms > 0) this.bandwidth.sample(got.bytes.byteLength, got.ms, seg.duration);
    const last = seg === playlist.segments[playlist.segments.length - 1];
    const data = got && (last ? wholeLastFrame(got.bytes, AAC_FRAME_SAMPLES) : got.bytes);
    if (gen !== this.gen) throw new Cancelled();
    await this.idle();
    if (gen !== this.gen || !this.sb) throw new Cancelled();
    if (this.sbEntry !== e) this.placeBuffer(e);
    if (init) {
      await this.append(init);
      this.sbLevel = level;
    }
    if (gen !== this.gen) throw new Cancelled();
    if (streamed) await this.appendAsItArrives(streamed, seg.duration, gen);
    else await this.append(data as ArrayBuffer);
    this.level = level;
    if (starting && this.startLevel === starting) this.startLevel = null; // then climb
    const p = e.placement;
    const from = Math.max(p.start, p.timestampOffset + seg.start);
    this.appended.push({ from, to: Math.min(p.end, p.timestampOffset + seg.start + seg.duration), level: e.levels[level].name });
    e.next++;
    if (e.next >= playlist.segments.length) e.done = true;
    if (e !== this.entries[0]) this.setDuration(p.end);
    this.watchPlayhead();
  }

  /** Append a response's bytes as they arrive (never for a track's last segment, which `wholeLastFrame`
   *  needs whole): the SourceBuffer parses the samples it has, so audio starts on the first of them. */
  private async appendAsItArrives(
    body: { response: Promise<Response>; t0: number },
    seconds: number,
    gen: number,
  ): Promise<void> {
    const resp = await body.response;
    const reader = resp.body?.getReader();
    if (!reader) return this.append(await resp.arrayBuffer());
    let bytes = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (gen !== this.gen || !this.sb) throw new Cancelled();
        bytes += value.byteLength;
        await this.append(value);
      }
    } catch (e) {
      void reader.cancel().catch(() => {});
      if (gen === this.gen && this.sb && this.ms?.readyState === "open") {
        // half a segment appended: reset the parser, and with it the placement (init and windows again)
        await this.idle();
        this.sb.abort();
        this.sbEntry = null;
      }
      throw e;
    }
    this.bandwidth.sample(bytes, performance.now() - body.t0, seconds);
  }

  /** Forget the first segment's response unless it is `kept` (its body is not read: cancel it). */
  private dropFirstBody(kept: unknown = null): void {
    const body = this.firstBody;
    this.firstBody = null;
    if (body && body !== kept) void body.response.then((r) => r.body?.cancel()).catch(() => {});
  }

  /** Point the SourceBuffer at `e`'s place on the timeline. */
  private placeBuffer(e: Entry<P>): void {
    const sb = this.sb as SourceBuffer;
    const p = e.placement;
    sb.timestampOffset = p.timestampOffset;
    // The window must stay non-empty while it moves: open the end first.
    sb.appendWindowEnd = Infinity;
    sb.appendWindowStart = p.appendWindowStart;
    sb.appendWindowEnd = p.appendWindowEnd;
    this.sbEntry = e;
    this.sbLevel = -1; // a new file: its init segment goes first
  }

  private append(data: BufferSource): Promise<void> {
    const sb = this.sb as SourceBuffer;
    return new Promise((resolve, reject) => {
      const done = () => {
        sb.removeEventListener("updateend", done);
        sb.removeEventListener("error", failed);
        resolve();
      };
      const failed = () => {
        sb.removeEventListener("updateend", done);
        sb.removeEventListener("error", failed);
        reject(new Error("append failed"));
      };
      sb.addEventListener("updateend", done);
      sb.addEventListener("error", failed);
      sb.appendBuffer(data);
    });
  }

  private async idle(): Promise<void> {
    while (this.sb?.updating) {
      await new Promise((r) => this.sb?.addEventListener("updateend", r, { once: true }));
    }
  }

  private setDuration(end: number, allowLower = false): void {
    const ms = this.ms;
    if (!ms || ms.readyState !== "open" || this.sb?.updating) return;
    const buffered = this.sb && this.sb.buffered.length ? this.sb.buffered.end(this.sb.buffered.length - 1) : 0;
    if (Number.isNaN(ms.duration) || end > ms.duration || (allowLower && end >= buffered)) {
      try {
        ms.duration = end;
      } catch {
        // still updating elsewhere: the next append raises it again
      }
    }
  }

  private isBuffered(t: number): boolean {
    const b = this.audio.buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t && t < b.end(i) - 0.1) return true;
    return false;
  }

  private bufferedEnd(t: number): number {
    const b = this.audio.buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t + 0.1 && t < b.end(i)) return b.end(i);
    return t;
  }

  private async pruneBehind(now: number): Promise<void> {
    const sb = this.sb;
    if (!sb || sb.updating || !sb.buffered.length) return;
    const cut = now - BUFFER_BEHIND_SEC;
    if (sb.buffered.start(0) < cut - 5) {
      sb.remove(0, cut);
      await this.idle();
      this.appended = this.appended.filter((a) => a.to > cut);
    }
  }

  private cancelFetches(): void {
    this.fetches.abort();
    this.fetches = new AbortController();
  }

  /** Keep bytes fetched ahead for `url` (a few: a track's init section, a play's first segment). */
  private keep(url: string, fetched: Promise<Fetched>): void {
    fetched.catch(() => {}); // a failed fetch ahead is fetched again when needed
    this.ready.delete(url);
    this.ready.set(url, fetched);
    for (const old of this.ready.keys()) {
      if (this.ready.size <= 8) break;
      this.ready.delete(old);
    }
  }

  /** Start fetching `url` for `e` now, unless it is already fetched or under way. */
  private ahead(e: Entry<P>, url: string): void {
    if (!this.ready.has(url)) this.keep(url, this.fetchBytes(e, url));
  }

  /** The bytes of `url` fetched ahead, else fetched now. */
  private async take(e: Entry<P>, url: string): Promise<Fetched> {
    const early = this.ready.get(url);
    if (early) {
      this.ready.delete(url);
      try {
        return await early;
      } catch {
        // fetched again below, with a renewed token if that was the trouble
      }
    }
    return this.fetchBytes(e, url);
  }

  private async fetchBytes(e: Entry<P>, url: string): Promise<Fetched> {
    const t0 = performance.now();
    const bytes = await (await this.signedFetch(e, url)).arrayBuffer();
    return { bytes, ms: performance.now() - t0 };
  }

  /** Fetch with the entry's newest token, renewing it when nearly expired or refused. */
  private async signedFetch(e: Entry<P>, url: string): Promise<Response> {
    if (e.token && e.token.expires - Date.now() / 1000 < RENEW_BEFORE_SEC) await this.renew(e);
    const signed = () => (e.token ? withToken(url, e.token.token) : url);
    const signal = this.fetches.signal;
    let resp = await fetch(signed(), { signal });
    if ((resp.status === 403 || resp.status === 410) && e.token) {
      await this.renew(e);
      resp = await fetch(signed(), { signal });
    }
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    return resp;
  }

  private async renew(e: Entry<P>): Promise<void> {
    const master = await e.source.renew();
    const levels = parseMaster(await (await this.fetchOk(master)).text(), new URL(master, location.href).toString());
    const token = levels.length ? tokenOf(levels[0].url) : null;
    if (token) e.token = token;
  }

  private async fetchOk(url: string): Promise<Response> {
    const resp = await fetch(url, { signal: this.fetches.signal });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    return resp;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
