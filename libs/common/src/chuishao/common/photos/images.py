"""A photo as received, made safe to keep and to show (pure: bytes in, bytes out).

Accepted by what the bytes are, never by the file name or the declared type: Pillow must
recognise JPEG, PNG, WebP or HEIC/HEIF (the only decoders it is allowed to try). The
stored copy and the thumbnail are re-encoded from the pixels alone, after the EXIF
orientation is applied, so no EXIF (GPS position, camera make and model, serial numbers),
XMP or text chunk of the original survives. The capture time is read first and kept as
evidence metadata by the store, never served to residents.

The content hash is SHA-256 of the normalised pixels (upright, RGB or RGBA, with the size),
not of the uploaded bytes: the same picture re-saved with its EXIF stripped or edited, or
converted between lossless formats, hashes the same, so a photo re-used as evidence is
found even when its metadata was changed to hide it. (A re-compressed or resized copy is
a different picture to this hash; that is a job for a perceptual hash, not done here.)
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from chuishao.common.errors import ApiError

register_heif_opener()

# Pillow's format names: what it may try on an upload. No other decoder ever sees the bytes.
# (A phone's multi-picture JPEG, MPO, is opened by the JPEG decoder; its first picture kept.)
ACCEPTED = ("JPEG", "PNG", "WEBP", "HEIF")
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881
DATETIME = 306
HASH_BAND_ROWS = 256  # rows hashed at a time: no second full copy of a large photo


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024
    # A decompression bomb is a small file of enormous dimensions: refused from its header,
    # before a pixel is decoded. 50 MP holds a phone's 48 MP full-resolution mode.
    max_pixels: int = 50_000_000
    stored_max_side: int = 4096  # the kept copy's longer side (evidence, not prints)
    thumb_side: int = 320
    jpeg_quality: int = 85
    thumb_quality: int = 70


@dataclass(frozen=True)
class Normalised:
    data: bytes
    content_type: str
    thumb: bytes
    thumb_type: str
    width: int
    height: int
    sha256: str
    source_format: str
    captured_at: str | None  # ISO 8601, with its offset when the camera wrote one


def not_an_image() -> ApiError:
    return ApiError(
        415,
        "not_an_image",
        "上传的文件不是支持的图片，请上传 JPEG、PNG、WebP 或 HEIC 照片",
        "The file is not a supported image; upload a JPEG, PNG, WebP or HEIC photo",
        field="photo",
    )


def too_large(limits: Limits) -> ApiError:
    megabytes = limits.max_bytes // (1024 * 1024)
    return ApiError(
        413,
        "photo_too_large",
        f"照片超过 {megabytes} MB，请压缩或换一张较小的照片",
        f"The photo is larger than {megabytes} MB; send a smaller one",
        field="photo",
    )


def too_many_pixels(limits: Limits) -> ApiError:
    megapixels = limits.max_pixels // 1_000_000
    return ApiError(
        413,
        "photo_too_many_pixels",
        f"照片尺寸超过 {megapixels} 百万像素，请缩小后再上传",
        f"The photo has more than {megapixels} megapixels; scale it down",
        field="photo",
    )


def broken_image() -> ApiError:
    return ApiError(
        422,
        "broken_image",
        "照片文件已损坏或不完整，无法打开，请重新拍摄或重新上传",
        "The image is damaged or incomplete and cannot be opened; upload it again",
        field="photo",
    )


def normalise(data: bytes, limits: Limits) -> Normalised:
    """The safe copy of an upload, or ApiError 415 / 413 / 422. CPU-bound: run it in a
    thread (the store does)."""
    if len(data) > limits.max_bytes:
        raise too_large(limits)
    with warnings.catch_warnings():
        # Our own pixel limit decides; Pillow's bomb warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED)
        except Image.DecompressionBombError as error:
            raise too_many_pixels(limits) from error
        except UnidentifiedImageError as error:
            raise not_an_image() from error
        except (OSError, ValueError, SyntaxError) as error:
            raise broken_image() from error
        with image:
            source_format = str(image.format)
            if image.width * image.height > limits.max_pixels:
                raise too_many_pixels(limits)
            try:
                image.load()
                captured_at = capture_time(image)
                upright = _upright(image)
            except (OSError, ValueError, SyntaxError, EOFError) as error:
                raise broken_image() from error
    digest = pixel_hash(upright)
    stored = _fit(upright, limits.stored_max_side)
    data_out, content_type = _encode(stored, limits)
    thumb = _fit(upright, limits.thumb_side)
    thumb_out = _save(thumb, "WEBP", quality=limits.thumb_quality, method=4)
    return Normalised(
        data=data_out,
        content_type=content_type,
        thumb=thumb_out,
        thumb_type="image/webp",
        width=stored.width,
        height=stored.height,
        sha256=digest,
        source_format=source_format,
        captured_at=captured_at,
    )


def capture_time(image: Image.Image) -> str | None:
    """EXIF DateTimeOriginal (with OffsetTimeOriginal when present), else DateTime."""
    exif = image.getexif()
    detail = exif.get_ifd(EXIF_IFD)
    raw = detail.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = detail.get(OFFSET_TIME_ORIGINAL)
    text = moment.isoformat()
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        text += offset.strip("\x00 ")
    return text


def _upright(image: Image.Image) -> Image.Image:
    """The pixels only: orientation applied, colours in sRGB, RGB or RGBA, and an image
    object that carries none of the original's metadata."""
    turned = ImageOps.exif_transpose(image) or image
    frame = _to_srgb(turned)
    mode = "RGBA" if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info else "RGB"
    converted = frame.convert(mode)
    clean = Image.new(mode, converted.size)
    clean.paste(converted)  # a new image: no info dict (exif, xmp, icc, text) to carry over
    return clean


def _to_srgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile: the pixels as they are
    return converted if converted is not None else image


def pixel_hash(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    for top in range(0, image.height, HASH_BAND_ROWS):
        band = image.crop((0, top, image.width, min(image.height, top + HASH_BAND_ROWS)))
        digest.update(band.tobytes())
    return digest.hexdigest()


def _fit(image: Image.Image, side: int) -> Image.Image:
    if max(image.size) <= side:
        return image
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    return copy


def _encode(image: Image.Image, limits: Limits) -> tuple[bytes, str]:
    """JPEG, which every phone, browser and forwarding system shows; PNG only to keep a
    transparent picture's transparency."""
    if image.mode == "RGBA":
        return _save(image, "PNG", optimize=True), "image/png"
    return _save(image, "JPEG", quality=limits.jpeg_quality, optimize=True), "image/jpeg"


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()
