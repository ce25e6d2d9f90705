// Protected tracks: Common Encryption (`cenc`) played through W3C EME with the Clear Key system.
//
// A protected track's HLS playlists list the very CMAF segments its DASH MPD lists, encrypted
// (docs/delivery.md, "Content protection"): the engine appends them as it appends clear ones, and the
// browser's Clear Key CDM decrypts them once it holds the key. The key comes from the track's licence
// URL (its stream grant's `licence_url`): on the element's `encrypted` event (an init segment carrying
// a `pssh`) a session turns the init data into a Clear Key request (`{"kids": [...]}`), the page posts
// it with the listener's token, and the JWK set answered goes into `session.update`.
//
// One licence per key per run: every level's init segment carries the same `pssh` (one key per track),
// so a level switch does not ask again. A protected track plays in a run of its own (engine/mse.ts):
// gapless joins between a protected and another track are not made.

export const CLEAR_KEY = "org.w3.clearkey";

/** Posts the CDM's licence request and answers the licence (a JWK set); throws when refused. */
export type LicenceFetch = (request: ArrayBuffer) => Promise<ArrayBuffer>;

export class ClearKey {
  private keys: Promise<MediaKeys> | null = null;
  private licence: LicenceFetch | null = null;
  private asked = new Set<string>(); // init data already turned into a request in this run
  private sessions: MediaKeySession[] = [];

  constructor(
    private readonly audio: HTMLMediaElement,
    private readonly refused: (error: unknown) => void,
    private readonly contentType: string,
  ) {
    audio.addEventListener("encrypted", (e) => void this.encrypted(e as MediaEncryptedEvent));
  }

  /** Before a protected run's source is attached: MediaKeys on the element, licences from `licence`. */
  async prepare(licence: LicenceFetch): Promise<void> {
    this.reset();
    if (!this.keys) {
      const keys = this.attach();
      this.keys = keys;
      keys.catch(() => this.keys === keys && (this.keys = null)); // asked again next time
    }
    await this.keys;
    this.licence = licence;
  }

  /** A new run (protected or not): the previous run's sessions and requests are done with. */
  reset(): void {
    this.licence = null;
    this.asked.clear();
    for (const s of this.sessions) void s.close().catch(() => {});
    this.sessions = [];
  }

  /** One MediaKeys for the element's lifetime (Chromium does not let an element change its MediaKeys). */
  private async attach(): Promise<MediaKeys> {
    if (typeof navigator.requestMediaKeySystemAccess !== "function") {
      throw new DOMException("this browser has no Encrypted Media Extensions", "NotSupportedError");
    }
    const access = await navigator.requestMediaKeySystemAccess(CLEAR_KEY, [{
      initDataTypes: ["cenc"],
      audioCapabilities: [{ contentType: this.contentType }],
    }]);
    const keys = await access.createMediaKeys();
    await this.audio.setMediaKeys(keys);
    return keys;
  }

  private async encrypted(e: MediaEncryptedEvent): Promise<void> {
    const licence = this.licence;
    if (!licence || !this.keys || !e.initData) return;
    const id = `${e.initDataType}:${hex(e.initData)}`;
    if (this.asked.has(id)) return;
    this.asked.add(id);
    try {
      const session = (await this.keys).createSession("temporary");
      this.sessions.push(session);
      session.addEventListener("message", (m) => void this.answer(session, licence, m.message));
      await session.generateRequest(e.initDataType, e.initData);
    } catch (err) {
      if (this.licence === licence) this.refused(err);
    }
  }

  private async answer(session: MediaKeySession, licence: LicenceFetch, request: ArrayBuffer): Promise<void> {
    try {
      const answer = await licence(request);
      if (this.licence === licence) await session.update(answer);
    } catch (err) {
      if (this.licence === licence) this.refused(err);
    }
  }
}

function hex(data: ArrayBuffer): string {
  return Array.from(new Uint8Array(data), (b) => b.toString(16).padStart(2, "0")).join("");
}
