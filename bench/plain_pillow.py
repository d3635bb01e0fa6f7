"""The baseline: the pipeline's image work as a plain multiprocessing Pillow script would do it.

For each JPEG: open it, read its EXIF, apply the EXIF orientation, fit it in 2048 x 2048 (JPEG
q85), make three thumbnails (512, 256, 128; WebP q80, method 1, the pipeline's settings), and
copy the original next to them. One process per core; outputs in a folder per image. A file that
Pillow cannot open or decode is skipped and counted, as a script fed users' uploads must.

    python bench/plain_pillow.py OUT_DIR IMAGE...

Written the way a competent person writes it in an afternoon (`ImageOps.exif_transpose`, then
`Image.thumbnail`), not tuned: no draft mode, no cascade, no threads inside an image.
"""

from __future__ import annotations

import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

from PIL import Image, ImageOps

MAX_SIDE = 2048
THUMBNAILS = (512, 256, 128)


def process(job: tuple[str, str]) -> bool:
    """True if the image was processed, False if Pillow could not read it."""
    try:
        _process(Path(job[0]), Path(job[1]))
    except (OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError):
        return False
    return True


def _process(source: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        exif = image.getexif()
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    upright.save(out / "display.jpg", "JPEG", quality=85)
    for size in THUMBNAILS:
        thumb = upright.copy()
        thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
        thumb.save(out / f"thumb-{size}.webp", "WEBP", quality=80, method=1)
    shutil.copyfile(source, out / "original")
    return len(exif)


def main(argv: list[str]) -> int:
    out, images = Path(argv[0]), argv[1:]
    started = time.monotonic()
    with Pool() as pool:
        done = pool.map(process, [(image, str(out / Path(image).stem)) for image in images], chunksize=1)
    print(f"{sum(done)} images processed, {len(done) - sum(done)} unreadable skipped, in "
          f"{time.monotonic() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
