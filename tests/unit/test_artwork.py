"""Cover art checking and rendering (catalog/artwork.py), at unit speed: no database, no store."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image, ImageCms, ImageOps

from cadenza.catalog import artwork
from cadenza.errors import InvalidInput
from images import BLUE, RED, encode, picture, png_header


def _open(r: artwork.Rendition) -> Image.Image:
    im = Image.open(io.BytesIO(r.data))
    im.load()
    return im


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


def _refused(data: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        artwork.prepare(data)
    return caught.value.reason


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
        ("BMP", "image/bmp", "bmp"),
    ],
)
def test_each_accepted_format_is_rendered_in_webp_and_jpeg(fmt: str, mime: str, ext: str) -> None:
    data = picture(800, 800, fmt)
    prepared = artwork.prepare(data)
    assert (prepared.mime, prepared.original_ext, prepared.original) == (mime, ext, data)
    assert (prepared.width, prepared.height) == (800, 800)
    assert {(r.size, r.ext) for r in prepared.renditions} == {
        (b, e) for b in (64, 300, 600) for e in ("webp", "jpg")
    }
    for r in prepared.renditions:
        im = _open(r)
        assert im.format == {"webp": "WEBP", "jpg": "JPEG"}[r.ext]
        assert im.size == (r.width, r.height) == (r.size, r.size)
        assert im.mode == "RGB"
        assert _close(im.getpixel((2, r.size // 2)), RED) and _close(im.getpixel((r.size - 3, 2)), BLUE)


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (100, 100), c) for c in (RED, BLUE, BLUE)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    prepared = artwork.prepare(buf.getvalue())
    assert _close(_open(prepared.renditions[0]).getpixel((32, 32)), RED)


def test_exif_orientation_is_applied_and_then_dropped() -> None:
    # Stored 400x200 left red / right blue, with "rotate 90° clockwise to display" (orientation 6).
    exif = Image.Exif()
    exif[0x0112] = 6
    prepared = artwork.prepare(picture(400, 200, "JPEG", exif=exif.tobytes()))
    assert (prepared.width, prepared.height) == (200, 400)
    big = next(r for r in prepared.renditions if r.size == 300 and r.ext == "webp")
    im = _open(big)
    assert im.size == (150, 300)
    # rotated clockwise, the red left half is now the top
    assert _close(im.getpixel((75, 10)), RED) and _close(im.getpixel((75, 290)), BLUE)
    assert 0x0112 not in im.getexif()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_displays_as_pillow_would(orientation: int) -> None:
    im = Image.new("RGB", (300, 200), RED)  # four quadrants: any flip or turn moves a colour
    im.paste(BLUE, (150, 0, 300, 100))
    im.paste((20, 200, 20), (0, 100, 150, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(im, "PNG", exif=exif.tobytes())
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    got = _open(next(r for r in artwork.prepare(data).renditions if r.size == 300 and r.ext == "webp"))
    assert got.size == expected.size
    for x, y in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]:
        at = (int(x * got.width), int(y * got.height))
        assert _close(got.getpixel(at), expected.getpixel(at)), (orientation, at)


def test_variants_carry_no_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make
    exif[0x0131] = "Secret Editor"  # Software
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    prepared = artwork.prepare(picture(700, 700, "JPEG", exif=exif.tobytes(), icc_profile=icc))
    for r in prepared.renditions:
        im = _open(r)
        assert not im.getexif() and "icc_profile" not in im.info and "exif" not in im.info, r
        assert b"Camera Maker" not in r.data and b"Secret Editor" not in r.data


def test_alpha_is_kept_in_webp_and_flattened_on_white_in_jpeg() -> None:
    im = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    im.paste((*RED, 255), (0, 0, 200, 400))
    prepared = artwork.prepare(encode(im, "PNG"))
    webp = _open(next(r for r in prepared.renditions if r.size == 300 and r.ext == "webp"))
    jpeg = _open(next(r for r in prepared.renditions if r.size == 300 and r.ext == "jpg"))
    assert webp.mode == "RGBA" and webp.getpixel((280, 150))[3] == 0
    assert _close(webp.getpixel((20, 150)), (*RED, 255))
    assert jpeg.mode == "RGB" and _close(jpeg.getpixel((280, 150)), (255, 255, 255), 8)
    assert _close(jpeg.getpixel((20, 150)), RED)


def test_a_palette_gif_with_a_transparent_colour_keeps_its_transparency() -> None:
    im = Image.new("P", (100, 100), 0)
    im.putpalette([*RED, *BLUE] + [0] * 762)
    im.paste(1, (50, 0, 100, 100))
    prepared = artwork.prepare(encode(im, "GIF", transparency=1))
    webp = _open(prepared.renditions[0])
    assert webp.mode == "RGBA" and webp.getpixel((60, 10))[3] == 0 and webp.getpixel((5, 5))[3] == 255


def test_tiny_images_get_the_smallest_box_at_their_own_size() -> None:
    for side in (1, 10, 63):
        prepared = artwork.prepare(picture(side, side, "PNG"))
        assert [(r.size, r.width, r.height) for r in prepared.renditions] == [(64, side, side)] * 2


@pytest.mark.parametrize(
    ("size", "boxes"),
    [
        ((64, 64), [(64, 64, 64)]),
        ((299, 200), [(64, 64, 43)]),
        ((500, 500), [(64, 64, 64), (300, 300, 300)]),
        ((1000, 250), [(64, 64, 16), (300, 300, 75), (600, 600, 150)]),
        ((1200, 1600), [(64, 48, 64), (300, 225, 300), (600, 450, 600), (1200, 900, 1200)]),
        ((3000, 3000), [(64, 64, 64), (300, 300, 300), (600, 600, 600), (1200, 1200, 1200)]),
    ],
)
def test_boxes_never_exceed_the_original_and_keep_its_shape(
    size: tuple[int, int], boxes: list[tuple[int, int, int]]
) -> None:
    prepared = artwork.prepare(picture(*size, "JPEG"))
    assert prepared.variants() == [{"size": b, "width": w, "height": h} for b, w, h in boxes]
    for r in prepared.renditions:
        assert _open(r).size == (r.width, r.height)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    im = Image.new("I;16", (80, 80), 40000)  # 61% grey
    webp = _open(artwork.prepare(encode(im, "PNG")).renditions[0])
    assert _close(webp.getpixel((10, 10)), (155, 155, 155), 6)


def test_cmyk_jpeg_becomes_rgb() -> None:
    im = Image.new("CMYK", (200, 200), (0, 255, 255, 0))  # red in CMYK
    for r in artwork.prepare(encode(im, "JPEG")).renditions:
        out = _open(r)
        assert out.mode == "RGB" and _close(out.getpixel((50, 50)), (255, 0, 0), 50)


def test_a_bomb_header_is_refused_quickly_without_decoding() -> None:
    started = time.perf_counter()
    assert "pixels" in _refused(png_header(30_000, 30_000))
    # 64 megapixels: under Pillow's own warning threshold (89), over ours; the pixel data is junk, so a
    # "too many pixels" reason (not "corrupt") shows that nothing was decoded
    reason = _refused(png_header(8_000, 8_000))
    assert "8000x8000" in reason and "50,000,000 pixels" in reason
    assert "a side" in _refused(png_header(20_000, 100))
    # 108 megapixels: Pillow's own bomb warning (over 89), raised as an error inside Image.open
    assert "decompression bomb" in _refused(png_header(12_000, 9_000))
    assert time.perf_counter() - started < 0.5


def test_a_real_image_over_the_pixel_cap_is_refused() -> None:
    im = Image.new("L", (7100, 7100), 128)  # 50.4 megapixels, compresses to a few kilobytes
    assert "pixels" in _refused(encode(im, "PNG"))


def test_zero_size_and_oversized_input_are_refused() -> None:
    assert "empty" in _refused(b"")
    # Pillow's PNG parser refuses a header of zero width itself (the module's own check is a backstop)
    assert _refused(png_header(0, 10)) == _refused(png_header(10, 0)) == "PNG image header is corrupt"
    too_big = picture(10, 10, "PNG") + b"\0" * artwork.MAX_INPUT_BYTES
    assert "limit" in _refused(too_big)


def test_corrupt_and_truncated_images_are_refused() -> None:
    jpeg = picture(600, 600, "JPEG")
    png = picture(600, 600, "PNG")
    assert "corrupt or truncated" in _refused(jpeg[: len(jpeg) // 2])
    assert "corrupt or truncated" in _refused(png[: len(png) - 40])
    damaged = bytearray(png)
    damaged[len(png) // 2 : len(png) // 2 + 64] = b"\xff" * 64
    assert "corrupt" in _refused(bytes(damaged))
    assert _refused(b"GIF89a and nothing more") == "GIF image header is corrupt"
    assert _refused(png[:20]) == "PNG image header is corrupt"


@pytest.mark.parametrize(
    "data",
    [
        b"this is not an image at all",
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        bytes(range(256)) * 8,
    ],
)
def test_non_images_are_refused(data: bytes) -> None:
    assert "not an image in an accepted format" in _refused(data)


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM", "TGA"])
def test_other_image_formats_are_refused(fmt: str) -> None:
    assert "not an image in an accepted format" in _refused(picture(32, 32, fmt))


def test_identical_bytes_have_identical_names() -> None:
    data = picture(320, 320, "PNG")
    first, second = artwork.prepare(data), artwork.prepare(data)
    assert first.sha256 == second.sha256 == artwork.content_hash(data)
    assert [r.data for r in first.renditions] == [r.data for r in second.renditions]
    other = artwork.prepare(picture(321, 320, "PNG"))
    assert other.sha256 != first.sha256


def test_one_function_lays_out_the_keys_and_urls_match_them() -> None:
    h = "ab" + "0" * 62
    assert artwork.object_key(h, "300.webp") == f"artwork/ab/{h}/300.webp"
    assert artwork.object_key(h, "original.png") == f"artwork/ab/{h}/original.png"
    assert artwork.variant_url(h, 64, "jpg") == f"/api/artwork/{h}/64.jpg"
    assert artwork.variant_key(h, "64.jpg") == artwork.object_key(h, "64.jpg")
    with pytest.raises(ValueError):
        artwork.object_key("../etc", "300.webp")


@pytest.mark.parametrize(
    ("sha", "name"),
    [
        ("AB" + "0" * 62, "64.webp"),  # upper-case hex is not a name we make
        ("ab" + "0" * 61, "64.webp"),
        ("ab" + "0" * 62 + "\n", "64.webp"),
        ("ab" + "0" * 62, "65.webp"),
        ("ab" + "0" * 62, "064.webp"),
        ("ab" + "0" * 62, "64.png"),
        ("ab" + "0" * 62, "original.png"),
        ("ab" + "0" * 62, "64.webp\n"),
        ("ab" + "0" * 62, "..%2F64.webp"),
        ("..", "64.webp"),
    ],
)
def test_only_names_this_module_makes_reach_the_store(sha: str, name: str) -> None:
    assert artwork.variant_key(sha, name) is None
