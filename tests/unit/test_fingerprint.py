"""Fingerprints: raw format, scores of copies vs other tunes, index keys, duplicate flagging in the DB."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from audio import make_audio, transcode_file
from cadenza.catalog.models import FingerprintKey, Track, TrackStatus
from cadenza.ingest import fingerprint as fp
from cadenza.ingest import fingerprint_index as fingerprints
from cadenza.ingest.ffmpeg import fingerprint_raw

DURATION = 40.0
ORIGINAL_SEED = 11
OTHER_SEEDS = (12, 13, 14)

# How each copy of the original is made: (file name, make_audio's extra args or None, transcode args).
# Bitrates go through make_audio (its codec args come first, so `extra` overrides them); edits of the
# original (resample, downmix, trims) go through transcode_file.
COPIES: dict[str, tuple[str, list[str] | None, list[str]]] = {
    "mp3_128k": ("copy.mp3", ["-b:a", "128k"], []),
    "aac_96k": ("copy.m4a", ["-b:a", "96k"], []),
    "opus_64k": ("copy.opus", ["-b:a", "64k"], []),
    "resampled_48k": ("r48.flac", None, ["-ar", "48000"]),
    "mono": ("mono.flac", None, ["-ac", "1"]),
    "trim_start_1s": ("ts.flac", None, ["-ss", "1"]),
    "trim_end_1s": ("te.flac", None, ["-t", str(DURATION - 1)]),
}


@dataclass
class Media:
    original: Path
    original_fp: np.ndarray
    copies: dict[str, np.ndarray]
    others: dict[int, np.ndarray]


def _fingerprint(path: Path) -> np.ndarray:
    # The same muxer and options as the transcode stage's analysis output.
    return fp.parse_raw(fingerprint_raw(path))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Each tune and copy generated and fingerprinted once, in parallel (ffmpeg runs in subprocesses)."""
    tmp = tmp_path_factory.mktemp("fp")
    original = make_audio(tmp / "original.flac", duration=DURATION, seed=ORIGINAL_SEED)

    def copy(name: str) -> tuple[str, np.ndarray]:
        filename, extra, edit = COPIES[name]
        dst = tmp / f"{name}-{filename}"
        if extra is not None:
            make_audio(dst, duration=DURATION, seed=ORIGINAL_SEED, extra=extra)
        else:
            transcode_file(original, dst, extra=edit)
        return name, _fingerprint(dst)

    def other(seed: int) -> tuple[int, np.ndarray]:
        return seed, _fingerprint(make_audio(tmp / f"other-{seed}.flac", duration=DURATION, seed=seed))

    with ThreadPoolExecutor(max_workers=6) as pool:
        copies = pool.map(copy, COPIES)
        others = pool.map(other, OTHER_SEEDS)
        original_fp = _fingerprint(original)
        return Media(original, original_fp, dict(copies), dict(others))


# --- raw format and storage ---------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("fpcalc") is None, reason="fpcalc (libchromaprint-tools) not installed")
def test_raw_output_matches_fpcalc_item_for_item(media: Media) -> None:
    # fpcalc 1.5 exits 3 after a harmless "Error decoding audio frame (End of file)" at the end of a
    # file, yet prints the whole fingerprint: judge it by its output.
    out = subprocess.run(
        ["fpcalc", "-raw", "-length", "0", str(media.original)], capture_output=True, text=True, check=False
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("FINGERPRINT="))
    expected = np.array([int(v) for v in line.split("=", 1)[1].split(",")], dtype=np.uint32)
    # ~8.08 items a second, minus the classifiers' window.
    assert abs(len(media.original_fp) - DURATION / fp.ITEM_SEC) < 25
    np.testing.assert_array_equal(media.original_fp, expected)


def test_parse_raw_is_little_endian_uint32_and_rejects_partial_items() -> None:
    items = fp.parse_raw(b"\x01\x00\x00\x00\xff\xff\xff\xff")
    assert items.dtype == np.uint32
    assert items.tolist() == [1, 0xFFFFFFFF]
    assert len(fp.parse_raw(b"")) == 0
    with pytest.raises(ValueError, match="whole number"):
        fp.parse_raw(b"\x00" * 7)


def test_storage_round_trip_is_exact_and_smaller(media: Media) -> None:
    items = media.original_fp
    blob = fp.to_bytes(items)
    assert len(blob) < 4 * len(items)
    np.testing.assert_array_equal(fp.from_bytes(blob), items)
    assert len(fp.from_bytes(fp.to_bytes(np.zeros(0, np.uint32)))) == 0
    # fpcalc -signed / pg_acoustid style int32 items are the same bits.
    np.testing.assert_array_equal(fp.from_bytes(fp.to_bytes(items.view(np.int32))), items)
    with pytest.raises(ValueError):
        fp.from_bytes(b"\x07garbage")


# --- scoring -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COPIES))
def test_copies_score_high(media: Media, name: str) -> None:
    match = fp.compare(media.original_fp, media.copies[name])
    # Measured 0.986-1.0 on these copies; different tunes 0.56-0.60.
    assert match.score > 0.95, match
    expected_offset = 1.0 if name == "trim_start_1s" else 0.0
    assert abs(match.offset_sec - expected_offset) < 2 * fp.ITEM_SEC


def test_different_tunes_score_low(media: Media) -> None:
    tunes = [media.original_fp, *media.others.values()]
    scores = [fp.compare(a, b).score for i, a in enumerate(tunes) for b in tunes[i + 1 :]]
    scores += [fp.compare(media.copies["mp3_128k"], b).score for b in media.others.values()]
    assert max(scores) < fp.DEFAULT_THRESHOLD - 0.1, scores


def test_compare_searches_only_the_offset_window(media: Media) -> None:
    a = media.original_fp
    shifted = a[80:]  # starts ~10 s in: beyond the default ±5 s
    assert fp.compare(a, shifted).score < fp.DEFAULT_THRESHOLD
    wide = fp.compare(a, shifted, max_offset_items=100)
    assert wide.score == 1.0 and wide.offset == 80
    # Identical items but only 50 overlapping (< 10 s): too little to count.
    assert fp.compare(a[:100], a[50:150], max_offset_items=60).score < fp.DEFAULT_THRESHOLD
    assert fp.compare(a, np.zeros(0, np.uint32)).score == 0.0


# --- index keys ----------------------------------------------------------------------------------


def _shared(query: np.ndarray, indexed: np.ndarray) -> float:
    q, i = set(fp.index_keys(query)), set(fp.index_keys(indexed))
    return len(q & i) / len(q)


def test_index_keys_are_bounded_and_int32_safe(media: Media) -> None:
    keys = fp.index_keys(np.tile(media.original_fp, 10))
    assert 0 < len(keys) <= fp.KEY_ITEMS
    assert keys == sorted(set(keys))
    assert min(keys) >= 0 and max(keys) < 2**31


@pytest.mark.parametrize("name", list(COPIES))
def test_copies_share_most_keys(media: Media, name: str) -> None:
    # Measured 0.70-1.0 on these copies.
    assert _shared(media.copies[name], media.original_fp) > 0.5


def test_different_tunes_share_few_keys(media: Media) -> None:
    for other in media.others.values():
        assert _shared(other, media.original_fp) < 0.05
        assert _shared(media.copies["opus_64k"], other) < 0.05


# --- database ------------------------------------------------------------------------------------


def _add_track(session: Session, title: str, status: TrackStatus = TrackStatus.ready) -> int:
    track = Track(title=title, status=status)
    session.add(track)
    session.flush()
    return track.id


def _flag(session: Session, track_id: int, items: np.ndarray) -> fingerprints.DuplicateMatch | None:
    return fingerprints.flag_duplicate(
        session, track_id=track_id, fingerprint=items, threshold=fp.DEFAULT_THRESHOLD
    )


def _keys_of(session: Session, track_id: int) -> list[int]:
    return list(
        session.scalars(
            select(FingerprintKey.key).where(FingerprintKey.track_id == track_id).order_by(FingerprintKey.key)
        )
    )


def test_flag_duplicate_in_database(engine: Engine, media: Media) -> None:
    """Runs on SQLite and PostgreSQL (the shared `engine` fixture is parametrized over both)."""
    other_a, other_b = media.others[OTHER_SEEDS[0]], media.others[OTHER_SEEDS[1]]
    with Session(engine) as s, s.begin():
        original = _add_track(s, "original")
        distinct = _add_track(s, "another tune")
        failed = _add_track(s, "failed upload", TrackStatus.failed)
        assert _flag(s, original, media.original_fp) is None
        assert _flag(s, distinct, other_a) is None
        assert _flag(s, failed, other_b) is None

        reupload = _add_track(s, "original, re-encoded")
        match = _flag(s, reupload, media.copies["mp3_128k"])
        assert match is not None and match.track_id == original
        assert match.score > 0.95 and abs(match.offset_sec) < 0.2
        trimmed = _add_track(s, "original, trimmed")
        trim_match = _flag(s, trimmed, media.copies["trim_start_1s"])
        assert trim_match is not None and trim_match.track_id == original
        assert abs(trim_match.offset_sec - 1.0) < 0.25
        # A failed track is no original: a copy of it is not flagged.
        copy_of_failed = _add_track(s, "copy of the failed upload")
        assert _flag(s, copy_of_failed, other_b[3:]) is None

    with Session(engine) as s, s.begin():
        stored = s.get(Track, reupload)
        assert stored is not None
        assert stored.duplicate_of == original and stored.duplicate_score == pytest.approx(match.score)
        np.testing.assert_array_equal(fp.from_bytes(stored.fingerprint or b""), media.copies["mp3_128k"])
        for track_id in (original, distinct, failed, copy_of_failed):
            track = s.get(Track, track_id)
            assert track is not None and track.duplicate_of is None and track.duplicate_score is None
        keys_before = _keys_of(s, reupload)
        assert keys_before == fp.index_keys(media.copies["mp3_128k"])

    # Idempotent: running again gives the same flag and the same index rows.
    with Session(engine) as s, s.begin():
        again = _flag(s, reupload, media.copies["mp3_128k"])
        assert again == match
        assert _keys_of(s, reupload) == keys_before

    # Once the original fails, a re-run clears the stale flag.
    with Session(engine) as s, s.begin():
        track = s.get(Track, original)
        assert track is not None
        track.status = TrackStatus.failed
        s.flush()
        assert _flag(s, reupload, media.copies["mp3_128k"]) is None
        cleared = s.get(Track, reupload)
        assert cleared is not None and cleared.duplicate_of is None and cleared.duplicate_score is None
