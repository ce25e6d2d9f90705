import { beforeEach, describe, expect, it, vi } from "vitest";

// The server as a fake that answers in the wrong order: the first write is the slowest.
const landed: number[] = [];
let delays: number[] = [];
vi.mock("../src/api", () => ({
  api: {
    rate: vi.fn((_kind: string, _id: number, rating: number) =>
      new Promise((done) => setTimeout(() => (landed.push(rating), done(null)), delays.shift() ?? 0))),
    star: vi.fn(async () => null),
    unstar: vi.fn(async () => undefined),
    marks: vi.fn(async () => []),
  },
}));
(globalThis as { document?: unknown }).document = { querySelectorAll: () => [] };

const { marksOf, setRating } = await import("../src/marks");

describe("marks", () => {
  beforeEach(() => {
    landed.length = 0;
  });

  it("sends one item's writes one after another, so the server keeps the last one chosen", async () => {
    delays = [30, 5, 0]; // unordered, the 4 would land first and the 2 last
    await Promise.all([setRating("track", 7, 2), setRating("track", 7, 3), setRating("track", 7, 4)]);
    expect(landed).toEqual([2, 3, 4]);
    expect(marksOf("track", 7).rating).toBe(4);
  });

  it("shows the change at once and takes it back when the server refuses it", async () => {
    const { api } = await import("../src/api");
    vi.mocked(api.rate).mockRejectedValueOnce(new Error("offline"));
    const pending = setRating("track", 8, 5);
    expect(marksOf("track", 8).rating).toBe(5);
    await expect(pending).rejects.toThrow("offline");
    expect(marksOf("track", 8).rating).toBeNull();
  });
});
