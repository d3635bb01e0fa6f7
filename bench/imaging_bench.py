"""Benchmark qip.imaging against a straightforward Pillow baseline and a plain decode.

For each generated photo-like image (1, 12, 24 MP JPEG; 12 MP PNG with alpha; 12 MP WebP) it runs,
side by side in one process:

  full      qip.imaging.process(): validate, metadata, display image, 3 thumbnails, one decode
  steps     the same as the pipeline's separate Lambda steps call it: validate(original),
            extract_metadata(original), the default renditions' large ones from the original (resize
            step) and small ones from the display image (thumbnails step)
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
    python bench/imaging_bench.py --renditions   # per rendition set: qip's steps against plain Pillow
    python bench/imaging_bench.py --avif         # AVIF encode cost per speed, against JPEG and WebP

--renditions makes each rendition set (the default one, and two declared ones) the way the pipeline
does (the resize step's large renditions from the upload, the thumbnails step's small ones from
the largest uncropped output) and, side by side, with a plain Pillow script that makes the same
outputs (same sizes, formats and settings; its cover crops are centred: Pillow has no attention
crop) from the full-size decode, and prints the ratio.
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
    RenditionSet,
    extract_metadata,
    make_renditions,
    process,
    render,
    resize,
    thumbnails,
    validate,
)
from qip.imaging.renditions import split, thumbnail_source
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
    qip_renditions(data, list(RenditionSet.from_mapping(None, OPTIONS).select("any/key.jpg")))


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


RENDITION_SETS = {
    "default (display + 3 thumbs)": None,
    "avatars (cover/attention webp+jpeg, thumb-128)": {
        "renditions": {"avatar": {"width": 256, "height": 256, "fit": "cover", "crop": "attention",
                                  "formats": ["webp", "jpeg"]}},
        "default": ["avatar", "thumb-128"]},
    "products (1200 avif+webp+jpeg, thumb-256)": {
        "renditions": {"product": {"width": 1200, "formats": ["avif", "webp", "jpeg"], "quality": 70}},
        "default": ["product", "thumb-256"]},
}


def qip_renditions(data: bytes, renditions: list) -> int:
    """As the pipeline's steps do it: large ones from the upload, small ones from an output."""
    large, small = split(renditions)
    made = make_renditions(data, large, OPTIONS).outputs
    source = thumbnail_source(renditions)
    base = next((o.data for o in made if source and o.name == source.name), data)
    made += make_renditions(base, small, OPTIONS).outputs
    return len(made)


def pillow_renditions(data: bytes, renditions: list) -> int:
    """A plain Pillow script making the same outputs from the full-size image."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    image = image.convert("RGB")
    count = 0
    for rendition in renditions:
        box = (rendition.width or 10**6, rendition.height or 10**6)
        if rendition.fit == "cover":
            out = ImageOps.fit(image, box, Image.Resampling.LANCZOS)
        elif rendition.fit == "fill":
            out = image.resize(box, Image.Resampling.LANCZOS)
        else:
            out = image.resize(_fit_box(image.size, box), Image.Resampling.LANCZOS)
        for fmt in rendition.formats:
            params = {"jpeg": {"quality": rendition.quality_for("jpeg")},
                      "webp": {"quality": rendition.quality_for("webp"), "method": OPTIONS.webp_method},
                      "avif": {"quality": rendition.quality_for("avif"), "speed": OPTIONS.avif_speed},
                      "png": {}}[fmt]
            out.save(io.BytesIO(), fmt.upper(), **params)
            count += 1
    return count


def _fit_box(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def renditions_bench(directory: Path, names: list[str], repeats: int) -> None:
    print(f"{'rendition set':48} {'image':12} {'outputs':>7} {'qip ms':>7} {'pillow ms':>9} {'pillow/qip':>10}")
    for label, spec in RENDITION_SETS.items():
        renditions = list(RenditionSet.from_mapping(spec, OPTIONS).select("any/key.jpg"))
        for name in names:
            data = make_image(name, directory).read_bytes()
            qip_renditions(data, renditions), pillow_renditions(data, renditions)  # warm-up
            runs: dict[str, list[float]] = {"qip": [], "pillow": []}
            for _ in range(repeats):
                for variant, run in (("qip", qip_renditions), ("pillow", pillow_renditions)):
                    start = time.perf_counter()
                    outputs = run(data, renditions)
                    runs[variant].append((time.perf_counter() - start) * 1000)
            qip_ms, pillow_ms = statistics.median(runs["qip"]), statistics.median(runs["pillow"])
            print(f"{label:48} {name:12} {outputs:7d} {qip_ms:7.0f} {pillow_ms:9.0f} {pillow_ms / qip_ms:9.1f}x",
                  flush=True)


def avif_bench(directory: Path, repeats: int) -> None:
    """Encode time and bytes of one image per format and AVIF speed (quality as the options')."""
    source = resize(make_image("jpeg-12MP", directory).read_bytes(), OPTIONS)
    for side in (1200, 2048):
        image = Image.open(io.BytesIO(source.data)).convert("RGB")
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        print(f"{image.width}x{image.height}: {'format':18} {'ms':>7} {'bytes':>8}")
        cases = [(f"jpeg q{OPTIONS.jpeg_quality}", "JPEG", {"quality": OPTIONS.jpeg_quality}),
                 (f"webp q{OPTIONS.webp_quality} m{OPTIONS.webp_method}", "WEBP",
                  {"quality": OPTIONS.webp_quality, "method": OPTIONS.webp_method})]
        cases += [(f"avif q{OPTIONS.avif_quality} speed {speed}" + (" (chosen)" if speed == OPTIONS.avif_speed
                                                                    else " (Pillow's default)" if speed == 6 else ""),
                   "AVIF", {"quality": OPTIONS.avif_quality, "speed": speed}) for speed in (4, 6, 8, 10)]
        for label, fmt, params in cases:
            runs, size = [], 0
            for _ in range(repeats):
                buffer = io.BytesIO()
                start = time.perf_counter()
                image.save(buffer, fmt, **params)
                runs.append((time.perf_counter() - start) * 1000)
                size = buffer.tell()
            print(f"{'':{len(str(image.width)) * 2 + 2}} {label:28} {statistics.median(runs):7.0f} {size:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="1 and 12 MP JPEG only, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per variant")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--webp-sweep", action="store_true", help="compare WebP method/quality")
    parser.add_argument("--renditions", action="store_true", help="rendition sets: qip against plain Pillow")
    parser.add_argument("--avif", action="store_true", help="AVIF encode cost per speed setting")
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
    if args.renditions or args.avif:  # either or both, one after the other
        if args.renditions:
            renditions_bench(directory, args.images.split(",") if args.images else ["jpeg-12MP", "jpeg-24MP"],
                             args.repeats or 3)
        if args.avif:
            avif_bench(directory, args.repeats or 3)
        return None
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
