"""Benchmark qip.imaging against a straightforward Pillow baseline and a plain decode.

For each generated photo-like image (1, 12, 24 MP JPEG; 12 MP PNG with alpha; 12 MP WebP) it runs,
side by side in one process:

  full      qip.imaging.process(): validate, metadata, display image, 3 thumbnails, one decode
  steps     the same as the pipeline's separate Lambda steps call it: validate(original),
            extract_metadata(original), resize(original), thumbnails(display image)
  baseline  open, load, exif_transpose, LANCZOS to 2048 from full size, each thumbnail from full
            size, save (JPEG q85 / WebP q80 at Pillow's default method), BlurHash on the smallest
  decode    Image.open(...).load() at full size: the floor

and prints median wall time, ratios, and the peak RSS of each variant run once in a fresh
subprocess ("idle" = interpreter + imports + the file read, nothing decoded). Peak RSS is the
child's VmHWM: it counts C allocations, which tracemalloc does not see, and unlike ru_maxrss it is
not inherited from the parent across fork+exec.

    python bench/imaging_bench.py            # everything, about 2 minutes on 2 cores
    python bench/imaging_bench.py --quick    # 1 and 12 MP JPEG only, fewer repeats
    python bench/imaging_bench.py --webp-sweep   # WebP method/quality choice for thumbnails
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import blurhash
from PIL import Image, ImageOps

from qip.imaging import (
    RenderOptions,
    extract_metadata,
    process,
    render,
    resize,
    thumbnails,
    validate,
)
from tests.imaging_corpus import photo

OPTIONS = RenderOptions()
IMAGES = {  # name: (width, height, format, save params)
    "jpeg-1MP": (1224, 816, "JPEG", {"quality": 90}),
    "jpeg-12MP": (4000, 3000, "JPEG", {"quality": 90}),
    "jpeg-24MP": (6000, 4000, "JPEG", {"quality": 90}),
    "png-12MP-alpha": (4000, 3000, "PNG", {"compress_level": 3}),
    "webp-12MP": (4000, 3000, "WEBP", {"quality": 85, "method": 0}),
}
VARIANTS = ("full", "steps", "baseline", "decode")


def make_image(name: str, directory: Path) -> Path:
    width, height, fmt, params = IMAGES[name]
    path = directory / f"{name}.{fmt.lower()}"
    if not path.exists():
        image = photo(width, height)
        if name.endswith("alpha"):
            alpha = Image.radial_gradient("L").resize((width, height))
            image.putalpha(alpha.point(lambda v: 255 - v))
        image.save(path, fmt, **params)
    return path


# --- the variants ----------------------------------------------------------------------------

def run_full(data: bytes) -> None:
    process(data, OPTIONS)


def run_steps(data: bytes) -> None:
    validate(data)
    extract_metadata(data)
    display = resize(data, OPTIONS)
    thumbnails(display.data, OPTIONS)


def run_baseline(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.load()
    image.getexif()
    image = ImageOps.exif_transpose(image)
    rgb = image.convert("RGB")
    display = rgb.resize(_fit(rgb.size, OPTIONS.max_side), Image.Resampling.LANCZOS)
    display.save(io.BytesIO(), "JPEG", quality=OPTIONS.jpeg_quality)
    thumb = rgb
    for size in OPTIONS.thumbnail_sizes:
        thumb = image.resize(_fit(image.size, size), Image.Resampling.LANCZOS)
        thumb.save(io.BytesIO(), "WEBP", quality=OPTIONS.webp_quality)
    blurhash.encode(thumb.convert("RGB"), 4, 3)


def run_decode(data: bytes) -> None:
    Image.open(io.BytesIO(data)).load()


RUNNERS: dict[str, Callable[[bytes], None]] = {
    "full": run_full, "steps": run_steps, "baseline": run_baseline, "decode": run_decode}


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


# --- measuring -------------------------------------------------------------------------------

def time_variants(data: bytes, repeats: int) -> dict[str, float]:
    """Median milliseconds per variant, runs interleaved so drift hits all alike."""
    for runner in RUNNERS.values():  # warm-up: imports, caches, page faults
        runner(data)
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(repeats):
        for variant in VARIANTS:
            start = time.perf_counter()
            RUNNERS[variant](data)
            samples[variant].append((time.perf_counter() - start) * 1000)
    return {v: statistics.median(s) for v, s in samples.items()}


def peak_rss_mb(variant: str, path: Path) -> float:
    """Peak RSS of a fresh interpreter that imports everything, reads the file, runs once."""
    out = subprocess.run([sys.executable, __file__, *CHILD_ARGS, "--child", variant, str(path)],
                         check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)["peak_rss_mb"])


CHILD_ARGS: list[str] = []


def configure(threads: int | None, max_side: int | None) -> None:
    """Apply --threads and --max-side here and in the memory subprocesses."""
    global OPTIONS
    if threads:
        render.MAX_THREADS = threads
        render._cpus.cache_clear()
        CHILD_ARGS.extend(["--threads", str(threads)])
    if max_side:
        OPTIONS = RenderOptions(max_side=max_side)
        CHILD_ARGS.extend(["--max-side", str(max_side)])


def child(variant: str, path: str) -> None:
    data = Path(path).read_bytes()
    if variant != "idle":
        RUNNERS[variant](data)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec from the (big) parent.
    status = Path("/proc/self/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"peak_rss_mb": peak_kb / 1024}))


def webp_sweep(directory: Path) -> None:
    """Time and size of the three thumbnails from a 2048 px display image per WebP setting."""
    display = resize(make_image("jpeg-12MP", directory).read_bytes(), OPTIONS).data
    print(f"{'method':>6} {'quality':>7} {'ms':>7} {'bytes':>8}")
    for method in range(0, 7):
        for quality in (75, 80, 85):
            options = RenderOptions(webp_method=method, webp_quality=quality)
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                thumbs = thumbnails(display, options)
                runs.append((time.perf_counter() - start) * 1000)
            size = sum(t.byte_size for t in thumbs)
            print(f"{method:>6} {quality:>7} {statistics.median(runs):7.1f} {size:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="1 and 12 MP JPEG only, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per variant")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--webp-sweep", action="store_true", help="compare WebP method/quality")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap qip's worker threads (1 = a Lambda with one vCPU)")
    parser.add_argument("--max-side", type=int, default=None, help="display size (default 2048)")
    parser.add_argument("--images", default=None, help=f"comma list from {', '.join(IMAGES)}")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure(args.threads, args.max_side)
    if args.child:
        return child(*args.child)
    directory = Path(tempfile.gettempdir()) / "qip-imaging-bench"
    directory.mkdir(exist_ok=True)
    if args.webp_sweep:
        return webp_sweep(directory)
    names = args.images.split(",") if args.images else (
        ["jpeg-1MP", "jpeg-12MP"] if args.quick else list(IMAGES))
    print(f"Pillow {Image.__version__}, {os.cpu_count()} CPUs, qip threads {render._cpus()}, "
          f"options {OPTIONS.to_dict()}")
    header = (f"{'image':15} {'MB':>5} | {'full':>6} {'steps':>6} {'base':>6} {'decode':>6} ms"
              f" | {'base/full':>9} {'full/dec':>8} {'steps/dec':>9}")
    if not args.no_memory:
        header += f" | RSS MB {'idle':>5} {'full':>5} {'steps':>5} {'base':>5} {'dec':>5} full/base"
    print(header)
    for name in names:
        path = make_image(name, directory)
        data = path.read_bytes()
        repeats = args.repeats or (3 if args.quick or "24MP" in name else 5)
        ms = time_variants(data, repeats)
        line = (f"{name:15} {len(data) / 1e6:5.1f} | {ms['full']:6.0f} {ms['steps']:6.0f} "
                f"{ms['baseline']:6.0f} {ms['decode']:6.0f}    | {ms['baseline'] / ms['full']:8.1f}x"
                f" {ms['full'] / ms['decode']:7.2f}x {ms['steps'] / ms['decode']:8.2f}x")
        if not args.no_memory:
            rss = {v: peak_rss_mb(v, path) for v in ("idle", *VARIANTS)}
            line += (f" |        {rss['idle']:5.0f} {rss['full']:5.0f} {rss['steps']:5.0f} "
                     f"{rss['baseline']:5.0f} {rss['decode']:5.0f} "
                     f"{rss['full'] / rss['baseline']:8.2f}")
        print(line, flush=True)
    return None


if __name__ == "__main__":
    main()
