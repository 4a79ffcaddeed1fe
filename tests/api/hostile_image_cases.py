"""Hostile image inputs of the corpus (classes file, bomb, frames, dimensions, mode, base64).

What must come back (spec §5.2): an undecodable file is a 400 ``InvalidParameter`` with
the data-inspection message; an image over the pixel or frame budget a 400 naming the
limit; a legal odd image (16-bit, CMYK, palette, LA, EXIF-rotated...) a 200. A tiny file
that decodes to a large but legal image (a 9000×9000 blank PNG, 81 MP, under the 100 MP
request budget) is a 200 too: it is judged from its header and decoded inside admission at
about 4 bytes per pixel (bench/memory.py measures that), like any 80 MP scan.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.api import hostile_files as files
from tests.api.hostile_corpus import (
    ALGO,
    DECODE_FAILED,
    OK,
    Case,
    Expect,
    data_url,
    image_request,
)


def image_case(kind: str, name: str, source: Callable[[], str], expect: Expect,
               xfail: str | None = None) -> Case:
    return Case(kind, name, lambda d, ctx: image_request(d, source()), expect, xfail=xfail)


def bad_image(message: str = DECODE_FAILED) -> Expect:
    return Expect(400, "InvalidParameter", has=(message,))


TOO_BIG = Expect(400, "InvalidParameter", has=(ALGO,), one_of=("pixel", "too large", "frames"))
"""An image over the pixel or frame budget: a 400 naming the limit (spec §5.2 prefix)."""


def file_cases() -> list[Case]:
    cases = []
    mimes = {"BMP": "image/bmp", "JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff",
             "WEBP": "image/webp", "HEIF": "image/heic"}
    for fmt, mime in mimes.items():
        cases += [
            image_case("file", f"truncated-{fmt}", lambda f=fmt, m=mime: data_url(files.truncated(f), m),
                       bad_image()),
            image_case("file", f"corrupt-{fmt}", lambda f=fmt, m=mime: data_url(files.corrupt(f), m),
                       bad_image()),
            image_case("file", f"empty-{fmt}", lambda m=mime: f"data:{m};base64,", bad_image()),
        ]
    cases += [
        image_case("file", "pdf-when-off", lambda: data_url(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n"),
                   bad_image("not supported")),
        image_case("file", "svg", lambda: data_url(b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
                   bad_image("not supported")),
        image_case("file", "gif", lambda: data_url(files.gif_frames(1), "image/gif"), bad_image("GIF")),
        image_case("file", "zip", lambda: data_url(b"PK\x03\x04" + b"\0" * 100), bad_image("not supported")),
        image_case("file", "random-bytes", lambda: data_url(bytes(range(256)) * 8), bad_image()),
        image_case("file", "text-as-image", lambda: data_url(b"hello world " * 50, "image/png"), bad_image()),
    ]
    return cases


def bomb_cases() -> list[Case]:
    return [
        image_case("bomb", "png-9000x9000-10KB", lambda: data_url(files.png_bomb(9000, 9000)), OK),
        image_case("bomb", "png-20000x20000", lambda: data_url(files.png_bomb(20000, 20000)), TOO_BIG),
        image_case("bomb", "tiff-9000x9000-g4", lambda: data_url(files.tiff_bomb(9000, 9000), "image/tiff"), OK),
        image_case("bomb", "tiff-30000x30000-g4",
                   lambda: data_url(files.tiff_bomb(30000, 30000), "image/tiff"), TOO_BIG),
        image_case("bomb", "webp-canvas-16383", lambda: data_url(files.webp_anim(16383, 16383, 1), "image/webp"),
                   TOO_BIG),
        image_case("bomb", "webp-canvas-9000x2", lambda: data_url(files.webp_anim(9000, 9000, 2), "image/webp"), TOO_BIG),
        image_case("bomb", "gif-65535", lambda: data_url(files.gif_claiming(65535, 65535), "image/gif"),
                   Expect(400, "InvalidParameter", has=(ALGO,))),
        image_case("bomb", "heic-claims-60000", lambda: data_url(files.heic_claiming(60000, 60000), "image/heic"),
                   TOO_BIG),
        image_case("bomb", "heic-claims-9000", lambda: data_url(files.heic_claiming(9000, 9000), "image/heic"),
                   Expect(400, "InvalidParameter", has=(ALGO,))),
        image_case("bomb", "jpeg-claims-65000", lambda: data_url(files.jpeg_claiming(65000, 65000), "image/jpeg"),
                   TOO_BIG),
        image_case("bomb", "jpeg-claims-9000", lambda: data_url(files.jpeg_claiming(9000, 9000), "image/jpeg"), OK),
        image_case("bomb", "bmp-claims-50000", lambda: data_url(files.bmp_claiming(50000, 50000), "image/bmp"),
                   TOO_BIG),
    ]


def frame_cases() -> list[Case]:
    return [
        image_case("frames", "tiff-200-pages", lambda: data_url(files.tiff_bomb(16, 16, 200), "image/tiff"),
                   TOO_BIG),
        image_case("frames", "tiff-40x4000x4000", lambda: data_url(files.tiff_bomb(4000, 4000, 40), "image/tiff"),
                   TOO_BIG),
        image_case("frames", "tiff-2x9000x9000", lambda: data_url(files.tiff_bomb(9000, 9000, 2), "image/tiff"), TOO_BIG),
        image_case("frames", "webp-200-frames", lambda: data_url(files.webp_anim(16, 16, 200), "image/webp"),
                   TOO_BIG),
        image_case("frames", "heic-60-images", lambda: data_url(files.heic_frames(60), "image/heic"), TOO_BIG),
        image_case("frames", "gif-1000-frames", lambda: data_url(files.gif_frames(1000), "image/gif"),
                   bad_image("not supported")),
    ]


def dimension_cases() -> list[Case]:
    small = Expect(400, "InvalidParameter", has=(ALGO, "must be larger than 10"))
    ratio = Expect(400, "InvalidParameter", has=(ALGO, "aspect ratio must not exceed 200"))
    return [
        image_case("dimensions", "1x1", lambda: data_url(files.sized(1, 1)), small),
        image_case("dimensions", "10x500", lambda: data_url(files.sized(10, 500)), small),
        image_case("dimensions", "11x11", lambda: data_url(files.sized(11, 11)), OK),
        image_case("dimensions", "11x2200-ratio-200", lambda: data_url(files.sized(11, 2200)), OK),
        image_case("dimensions", "11x2201", lambda: data_url(files.sized(11, 2201)), ratio),
        image_case("dimensions", "2201x11", lambda: data_url(files.sized(2201, 11)), ratio),
        image_case("dimensions", "65500x12", lambda: data_url(files.png_bomb(65500, 12)), ratio),
        image_case("dimensions", "20x100000", lambda: data_url(files.png_bomb(20, 100000)), ratio),
        image_case("dimensions", "0x0-png-header", lambda: data_url(files.png_bomb(0, 0)), bad_image()),
    ]


def mode_cases() -> list[Case]:
    return [image_case("mode", name, lambda n=name: data_url(files.odd_mode(n)), OK)
            for name in files.ODD_MODES]


def base64_cases() -> list[Case]:
    png = files.valid("PNG")
    b64 = base64.b64encode(png).decode()
    invalid = Expect(400, "InvalidParameter", has=("Invalid data URL",))
    return [
        image_case("base64", "bad-characters", lambda: "data:image/png;base64,@@@###!!", invalid),
        image_case("base64", "one-character", lambda: "data:image/png;base64,A", invalid),
        image_case("base64", "only-padding", lambda: "data:image/png;base64,====", invalid),
        image_case("base64", "padding-in-middle", lambda: "data:image/png;base64," + b64[:8] + "==" + b64[8:],
                   invalid),
        image_case("base64", "no-comma", lambda: "data:image/png;base64" + b64, invalid),
        image_case("base64", "not-base64", lambda: "data:image/png," + png.decode("latin-1"), invalid),
        image_case("base64", "non-ascii-payload", lambda: "data:image/png;base64,ÄÖÜ" + b64, invalid),
        image_case("base64", "line-breaks", lambda: "data:image/png;base64," + "\n".join(
            b64[i:i + 76] for i in range(0, len(b64), 76)), OK),
        image_case("base64", "url-safe-alphabet", lambda: "data:image/png;base64," + base64.urlsafe_b64encode(
            png).decode().rstrip("="), OK),
        image_case("base64", "percent-encoded", lambda: "data:image/png;base64," + b64.replace("+", "%2B").replace(
            "/", "%2F"), OK),
        image_case("base64", "mime-text-plain", lambda: data_url(png, "text/plain"), OK),
        image_case("base64", "mime-empty", lambda: data_url(png, ""), OK),
        image_case("base64", "mime-says-gif", lambda: data_url(png, "image/gif"), OK),
        image_case("base64", "uppercase-scheme", lambda: "DATA:IMAGE/PNG;BASE64," + b64, OK),
        image_case("base64", "mime-1MB", lambda: data_url(png, "image/" + "x" * 1_000_000), OK),
        image_case("base64", "over-10MiB", lambda: "data:image/png;base64," + "A" * (10 * 1024 * 1024 + 4),
                   Expect(400, "BadRequest.TooLarge", has=("Exceeded limit on max bytes per data-uri item",))),
    ]
