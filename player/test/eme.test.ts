import { afterEach, describe, expect, it, vi } from "vitest";
import { ClearKey } from "../src/engine/eme";

// The browser's EME objects, reduced to what ClearKey touches (the real CDM is exercised in Chromium
// by tests/e2e/test_player_protected.py); these fakes record what the page asked of them.
class FakeSession extends EventTarget {
  requests: { type: string; data: string }[] = [];
  updates: string[] = [];
  closed = false;
  async generateRequest(type: string, data: ArrayBuffer): Promise<void> {
    this.requests.push({ type, data: new TextDecoder().decode(data) });
    const message = Object.assign(new Event("message"), { message: new TextEncoder().encode('{"kids":["k"]}').buffer });
    queueMicrotask(() => this.dispatchEvent(message));
  }
  async update(answer: ArrayBuffer): Promise<void> {
    this.updates.push(new TextDecoder().decode(answer));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function world() {
  const sessions: FakeSession[] = [];
  const keys = { createSession: () => (sessions.push(new FakeSession()), sessions[sessions.length - 1]) };
  const media = { mediaKeys: null as unknown };
  const audio = Object.assign(new EventTarget(), media, { setMediaKeys: async (k: unknown) => void (media.mediaKeys = k) });
  const asked: string[] = [];
  vi.stubGlobal("navigator", {
    requestMediaKeySystemAccess: async (system: string) => (asked.push(system), { createMediaKeys: async () => keys }),
  });
  const refused: unknown[] = [];
  const ck = new ClearKey(audio as unknown as HTMLMediaElement, (e) => refused.push(e), 'audio/mp4; codecs="mp4a.40.2"');
  const encrypted = (pssh: string) =>
    audio.dispatchEvent(Object.assign(new Event("encrypted"), { initDataType: "cenc", initData: new TextEncoder().encode(pssh).buffer }));
  return { ck, media, sessions, asked, refused, encrypted };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => vi.unstubAllGlobals());

describe("Clear Key for protected tracks", () => {
  it("asks for one licence per key, however many init segments (levels) carry its pssh", async () => {
    const w = world();
    const posted: string[] = [];
    await w.ck.prepare(async (req) => (posted.push(new TextDecoder().decode(req)), new TextEncoder().encode('{"keys":[]}').buffer));
    expect(w.asked).toEqual(["org.w3.clearkey"]);
    expect(w.media.mediaKeys).not.toBeNull();
    w.encrypted("pssh-A");
    w.encrypted("pssh-A"); // another level's init segment: the same key
    await settle();
    await settle();
    expect(posted).toEqual(['{"kids":["k"]}']);
    expect(w.sessions).toHaveLength(1);
    expect(w.sessions[0].requests).toEqual([{ type: "cenc", data: "pssh-A" }]);
    expect(w.sessions[0].updates).toEqual(['{"keys":[]}']);
    expect(w.refused).toEqual([]);
  });

  it("reports a refused licence, and a new run forgets the old one's sessions and answers", async () => {
    const w = world();
    const no = new Error("451");
    await w.ck.prepare(async () => {
      throw no;
    });
    w.encrypted("pssh-A");
    await settle();
    await settle();
    expect(w.refused).toEqual([no]);

    let answer: (b: ArrayBuffer) => void = () => {};
    await w.ck.prepare(() => new Promise<ArrayBuffer>((r) => (answer = r)));
    expect(w.sessions[0].closed).toBe(true);
    w.encrypted("pssh-A"); // asked again: a new run, a new grant, a new licence
    await settle();
    await settle();
    expect(w.sessions).toHaveLength(2);
    w.ck.reset(); // the listener moved on before the answer came
    answer(new TextEncoder().encode("late").buffer);
    await settle();
    expect(w.sessions[1].updates).toEqual([]);
    expect(w.asked).toHaveLength(1); // one MediaKeys for the element's lifetime
  });

  it("ignores init data when the run is not protected", async () => {
    const w = world();
    w.ck.reset();
    w.encrypted("pssh-A");
    await settle();
    expect(w.sessions).toHaveLength(0);
  });
});
