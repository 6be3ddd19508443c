"""The one image decoder of the course: preparation and ``predict_image`` both use it.

:func:`decode` turns a file's bytes into an upright RGB Pillow image, the way
every photo enters the course:

- formats: JPEG, PNG, GIF and WebP (first frame of an animation), BMP, MPO
  (the two-frame JPEG some phones and 3D cameras write: its first frame);
  HEIC/HEIF (the iPhone default) when the optional ``pillow-heif`` package is
  installed, otherwise a clear message saying how to convert it;
- EXIF orientation applied (:func:`PIL.ImageOps.exif_transpose`);
- transparency composited on white; grayscale, palette and CMYK converted to RGB;
- very large photos: a JPEG is decoded at a reduced scale (Pillow's
  :meth:`~PIL.Image.Image.draft`, the JPEG decoder's 1/2, 1/4, 1/8 scaling)
  when a ``reduce_to`` size is given, so a 100-megapixel photo costs a few MB;
  any other image over :data:`MAX_PIXELS` is refused with a message, and Pillow's
  own decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, 2x of it raises)
  still applies.
"""

from __future__ import annotations

import dataclasses
import io
import warnings

#: Image formats accepted (as Pillow names them after decoding).
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "MPO", "HEIF")

#: Largest image, in pixels, decoded at full size (64 MP: a 9248 x 6936 photo).
MAX_PIXELS = 64_000_000

#: ISO media "brands" of HEIC/HEIF/AVIF files (bytes 8-12 of the file).
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")

HEIC_ADVICE = ("a HEIC/HEIF photo (the iPhone's default format), which this course cannot "
               "read as it is: convert it to JPEG (open it in Photos/Preview and export as "
               "JPEG, or on the iPhone choose Settings > Camera > Formats > Most Compatible), "
               "or install the optional reader with `pip install pillow-heif`")


class ImageDecodeError(ValueError):
    """The bytes are not an image the course can read; the message says why and what to do."""


@dataclasses.dataclass
class Decoded:
    """An image as :func:`decode` found it.

    Attributes
    ----------
    image : PIL.Image.Image
        Upright RGB, possibly reduced (see ``reduced``).
    format : str
        Pillow's name of the file's format (``"JPEG"``, ``"PNG"``...).
    mode : str
        The file's own pixel mode (``"RGB"``, ``"RGBA"``, ``"L"``, ``"CMYK"``...).
    width, height : int
        The file's own size in pixels (before any rotation or reduction).
    plain : bool
        True for an RGB JPEG needing no rotation: its bytes can be used as
        they are (copied into the split, decoded by TensorFlow).
    reduced : bool
        True when the JPEG decoder's scaling gave a smaller image.
    """

    image: object
    format: str
    mode: str
    width: int
    height: int
    plain: bool
    reduced: bool = False


def _register_heif() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def is_heif(content: bytes) -> bool:
    """True if ``content`` starts like a HEIC/HEIF/AVIF file (``....ftypheic``...)."""
    return len(content) >= 12 and content[4:8] == b"ftyp" and content[8:12] in _HEIF_BRANDS


def decode(content: bytes, *, reduce_to: tuple | None = None,
           max_pixels: int = MAX_PIXELS) -> Decoded:
    """Decode image bytes fully into an upright RGB image.

    Parameters
    ----------
    content : bytes
        The whole file.
    reduce_to : tuple of int, optional
        ``(width, height)``: a JPEG may be decoded at a reduced scale no smaller
        than this (the image is still read to its end, so a truncated file fails).
        Default: full size.
    max_pixels : int, default :data:`MAX_PIXELS`
        Images larger than this that cannot be reduced while decoding are refused.

    Returns
    -------
    Decoded

    Raises
    ------
    ImageDecodeError
        Empty bytes, not an image, HEIC without ``pillow-heif`` (the message says
        how to convert it), an unsupported format, too many pixels, or a
        truncated or corrupt file.
    """
    from PIL import Image, UnidentifiedImageError

    if not content:
        raise ImageDecodeError("empty file (0 bytes)")
    if is_heif(content) and not _register_heif():
        raise ImageDecodeError(f"unsupported image format HEIF: {HEIC_ADVICE}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            fmt = image.format or ""
            if fmt not in ACCEPTED_FORMATS:
                raise ImageDecodeError(f"unsupported image format {fmt or 'unknown'}: use JPEG, "
                                       "PNG, WebP, GIF or BMP")
            mode, (width, height) = image.mode, image.size
            reduced = False
            if (fmt in ("JPEG", "MPO") and reduce_to is not None
                    and width >= 2 * reduce_to[0] and height >= 2 * reduce_to[1]):
                image.draft(image.mode, (int(reduce_to[0]), int(reduce_to[1])))
                reduced = image.size != (width, height)
            if not reduced and width * height > max_pixels:
                raise ImageDecodeError(
                    f"image too large: {width} x {height} pixels ({width * height / 1e6:.0f} MP), "
                    f"more than the {max_pixels / 1e6:.0f} MP read at full size; save a smaller copy")
            image.seek(0)  # first frame of an animation or of an MPO
            image.load()   # decodes everything: a truncated file fails here
            orientation = image.getexif().get(0x0112, 1) if fmt != "GIF" else 1
            plain = fmt == "JPEG" and mode == "RGB" and orientation in (1, None)
            if not plain:
                image = to_rgb(image)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image (content not recognised)") from None
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"image too large: {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageDecodeError(f"truncated or corrupt image: {error}") from None
    if image.width < 1 or image.height < 1:
        raise ImageDecodeError("image has no pixels")
    return Decoded(image, fmt, mode, width, height, plain, reduced)


def to_rgb(image):
    """Upright RGB: EXIF rotation applied, transparency composited on white.

    Parameters
    ----------
    image : PIL.Image.Image
        Any mode (``RGBA``, ``LA``, ``P`` with transparency, ``L``, ``CMYK``...).

    Returns
    -------
    PIL.Image.Image
        Mode ``RGB``.
    """
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La") or "transparency" in image.info:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def save_jpeg(image, dest, quality: int = 95) -> None:
    """Write an RGB image as the split's JPEG (quality 95)."""
    image.save(dest, "JPEG", quality=quality)


def check_size(image_size) -> tuple:
    """``(height, width)`` as two positive ints: the one check of every ``image_size`` argument.

    Raises
    ------
    ValueError
        If ``image_size`` is not two positive integers.
    """
    try:
        height, width = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width), not {image_size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"image_size must be positive, not {image_size!r}")
    return height, width
