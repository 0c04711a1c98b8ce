"""The photo store's image handling (chuishao.common.photos.images), without servers:
what is accepted by content, what is stripped, what the hash and capture time are."""

import io

import pytest
from PIL import ExifTags, Image

from chuishao.common.errors import ApiError
from chuishao.common.photos import Limits, normalise
from chuishao.common.photos.store import FirstSeen, Purpose, photo_in, reuse_of

LIMITS = Limits()


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def refusal(data: bytes, limits: Limits = LIMITS) -> tuple[int, str]:
    with pytest.raises(ApiError) as refused:
        normalise(data, limits)
    return refused.value.status, refused.value.detail.code


def test_heic_is_accepted_and_stored_as_jpeg() -> None:
    heic = encoded(Image.new("RGB", (300, 200), (0, 120, 0)), "HEIF")
    photo = normalise(heic, LIMITS)
    assert photo.source_format == "HEIF"
    assert photo.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(photo.data)).format == "JPEG"


def test_gps_make_model_and_xmp_are_gone_and_the_capture_time_is_kept() -> None:
    exif = Image.Exif()
    exif[271], exif[272], exif[274] = "Xiaomi", "14 Pro", 8
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (39.0, 54.0, 31.2)}
    exif[ExifTags.IFD.Exif] = {36867: "2026:12:01 17:45:09"}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>39,54N</exif:GPSLatitude>'
    data = encoded(Image.new("RGB", (40, 30)), "JPEG", exif=exif.tobytes(), xmp=xmp)
    photo = normalise(data, LIMITS)
    assert photo.captured_at == "2026-12-01T17:45:09"  # no offset written: none added
    kept = Image.open(io.BytesIO(photo.data))
    assert not kept.getexif()
    assert "xmp" not in kept.info
    assert b"GPS" not in photo.data
    assert b"Xiaomi" not in photo.data
    assert kept.size == (30, 40)  # orientation 8: turned upright


def test_the_hash_is_of_the_pixels_not_of_the_metadata() -> None:
    image = Image.effect_noise((64, 48), 50).convert("RGB")
    plain = encoded(image, "PNG")
    tagged = encoded(image, "PNG", exif=b"Exif\x00\x00" + Image.Exif().tobytes()[6:])
    lossless = encoded(image, "WEBP", lossless=True)
    hashes = {normalise(d, LIMITS).sha256 for d in (plain, tagged, lossless)}
    assert len(hashes) == 1
    other = encoded(Image.effect_noise((64, 48), 50).convert("RGB"), "PNG")
    assert normalise(other, LIMITS).sha256 not in hashes


def test_refusals_name_the_problem() -> None:
    assert refusal(b"<html>hello</html>" * 10) == (415, "not_an_image")
    assert refusal(encoded(Image.new("RGB", (10, 10)), "GIF")) == (415, "not_an_image")
    assert refusal(encoded(Image.new("RGB", (10, 10)), "BMP")) == (415, "not_an_image")
    jpeg = encoded(Image.effect_noise((200, 200), 50).convert("RGB"), "JPEG")
    assert refusal(jpeg[: len(jpeg) // 2]) == (422, "broken_image")
    assert refusal(jpeg, Limits(max_bytes=1024)) == (413, "photo_too_large")
    assert refusal(jpeg, Limits(max_pixels=100 * 100)) == (413, "photo_too_many_pixels")


def test_a_transparent_picture_keeps_its_transparency() -> None:
    photo = normalise(encoded(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), "PNG"), LIMITS)
    assert photo.content_type == "image/png"
    assert Image.open(io.BytesIO(photo.data)).mode == "RGBA"


def test_reuse_is_flagged_for_evidence_seen_elsewhere_or_as_the_report() -> None:
    elsewhere = FirstSeen(ticket_id="T1", photo_id="a" * 32, purpose=Purpose.EVIDENCE)
    reported = FirstSeen(ticket_id="T2", photo_id="b" * 32, purpose=Purpose.REPORT)
    assert reuse_of(None, "T2", Purpose.EVIDENCE) is None
    assert reuse_of(elsewhere, "T2", Purpose.EVIDENCE) == "T1"
    assert reuse_of(elsewhere, "T1", Purpose.EVIDENCE) is None  # two units, one ticket
    assert reuse_of(reported, "T2", Purpose.EVIDENCE) == "T2"
    assert reuse_of(elsewhere, "T2", Purpose.REPORT) is None  # residents share photos


def test_photo_urls_are_recognised_on_any_host_only_with_a_real_id() -> None:
    pid = "0123456789abcdef" * 2
    assert photo_in(f"http://intake:8080/api/v1/tickets/T1/photos/{pid}") == ("T1", pid)
    assert photo_in(f"https://x/api/v1/tickets/T1/photos/{pid}?thumb=1") == ("T1", pid)
    assert photo_in(f"https://x/api/v1/tickets/T1/photos/{pid}0") is None
    assert photo_in("https://img.example/fixed.jpg") is None
