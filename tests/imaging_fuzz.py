"""Hostile files for the image core: seeded mutations of valid images, run as the pipeline runs them.

The property (issue 15): every file either validates and goes through every later step, or the
validate step rejects it with a reason code. Anything else is a failure: another exception type
(which the state machine retries, then ends FAILED), a rejection by a step after validate (only
validate's verdict leads to REJECTED), a hang past the per-file deadline, or a memory blow-up past
the address-space limit.

Seed files are made in code, deterministically (pixels from the seeded RNG and gradients), in every
accepted format family: JPEG, PNG, GIF, WebP, TIFF, AVIF and HEIC. A case is one seed file with one
to three mutations: bit flips, an overwritten run, truncation, rewritten header dimensions (JPEG SOF,
PNG IHDR, GIF logical screen and image descriptor, WebP VP8/VP8L/VP8X/ANMF, TIFF tags, AVIF/HEIC
``ispe``) or a spliced piece of another seed file. Case ``i`` of seed ``s`` depends on nothing but
``(s, i)``, so any finding is reproduced alone.

Cases run in worker processes (one per core, each given a batch), each with ``RLIMIT_AS`` and a
per-file ``SIGALRM`` deadline whose default action kills the worker even inside C code; the parent
records the case a worker died on and starts another worker for the rest of its batch.

    python -m tests.imaging_fuzz [COUNT] [SEED]     # counts by outcome; exit 1 on any failure
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pickle
import random
import resource
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

from tests import imaging_corpus as corpus

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("jpeg", "png", "gif", "webp", "tiff", "avif", "heic")
DEFAULT_SEED = 20240515
DEADLINE_SECONDS = 5
MEMORY_LIMIT = 1536 * 1024 * 1024
"""Address space a worker may map (RLIMIT_AS): 1.5 GiB."""
RUN_CASE = "tests.imaging_fuzz:run_case"
READY = "ready"

PROCESSED, REJECTED, FAILURE = "processed", "rejected", "failure"


# --- seed files -------------------------------------------------------------------------------

def seeded_photo(rng: random.Random, width: int, height: int) -> Image.Image:
    """Photo-like pixels that depend only on ``rng``: gradients blended with seeded noise
    (``Image.effect_noise`` is not seeded, so it is not used here)."""
    gx = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize((width, height))
    gy = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    smooth = Image.merge("RGB", (gx, gy, radial))
    coarse = Image.frombytes("RGB", (max(1, width // 8), max(1, height // 8)),
                             rng.randbytes(max(1, width // 8) * max(1, height // 8) * 3))
    grain = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    texture = Image.blend(coarse.resize((width, height), Image.Resampling.BICUBIC), grain, 0.3)
    return Image.blend(smooth, texture, 0.4)


@cache
def seed_files() -> dict[str, dict[str, bytes]]:
    """{family: {name: bytes}}: small valid files of each family, the same on every call and run."""
    rng = random.Random(DEFAULT_SEED)

    def photo(width: int = 64, height: int = 48) -> Image.Image:
        return seeded_photo(rng, width, height)

    def rgba() -> Image.Image:
        image = photo().convert("RGBA")
        alpha = Image.linear_gradient("L").resize(image.size)
        image.putalpha(alpha)
        return image

    def frames(count: int, mode: str = "RGB") -> list[Image.Image]:
        images = [photo(48, 32) for _ in range(count)]
        if mode == "P":
            images = [im.convert("P", palette=Image.Palette.ADAPTIVE) for im in images]
        return images

    save = corpus.save
    animated_gif, animated_webp, apng, pages = frames(3, "P"), frames(3), frames(2), frames(2)
    return {
        "jpeg": {
            "baseline_exif": corpus.make_jpeg(image=photo(), exif=corpus.camera_exif()),
            "progressive": corpus.make_jpeg(image=photo(), progressive=True),
            "grey": corpus.make_jpeg(image=photo().convert("L")),
        },
        "png": {
            "rgb": save(photo(), "PNG"),
            "palette": save(photo().convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
            "rgba": save(rgba(), "PNG"),
            "apng": save(apng[0], "PNG", save_all=True, append_images=apng[1:], duration=100, loop=0),
        },
        "gif": {
            "still": save(photo().convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
            "animated": save(animated_gif[0], "GIF", save_all=True, append_images=animated_gif[1:],
                             duration=100, loop=0),
        },
        "webp": {
            "lossy": save(photo(), "WEBP", quality=80),
            "lossless_alpha": save(rgba(), "WEBP", lossless=True),
            "animated": save(animated_webp[0], "WEBP", save_all=True, append_images=animated_webp[1:],
                             duration=100, loop=0),
        },
        "tiff": {
            "deflate": save(photo(), "TIFF", compression="tiff_deflate"),
            "raw": save(photo(), "TIFF"),
            "lzw_pages": save(pages[0], "TIFF", compression="tiff_lzw", save_all=True,
                              append_images=pages[1:]),
        },
        "avif": {
            "rgb": save(photo(), "AVIF", quality=70),
            "rgba": save(rgba(), "AVIF", quality=70),
        },
        "heic": {
            "rgb": save(photo(), "HEIF", quality=70),
        },
    }


# --- mutations --------------------------------------------------------------------------------

Mutation = Callable[[bytearray, random.Random, str], bytearray]


def bit_flips(data: bytearray, rng: random.Random, family: str) -> bytearray:
    """Flip 1-8 bits, half of the time within the first 512 bytes (where the headers are)."""
    span = min(len(data), 512) if rng.random() < 0.5 else len(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(span)] ^= 1 << rng.randrange(8)
    return data


def overwrite_run(data: bytearray, rng: random.Random, family: str) -> bytearray:
    """Overwrite a run of 1-64 bytes with random bytes, zeros or 0xFF."""
    length = min(rng.randint(1, 64), len(data))
    start = rng.randrange(len(data) - length + 1)
    fill = rng.choice(("random", "zeros", "ones"))
    run = rng.randbytes(length) if fill == "random" else (b"\x00" if fill == "zeros" else b"\xff") * length
    data[start:start + length] = run
    return data


def truncate(data: bytearray, rng: random.Random, family: str) -> bytearray:
    """Cut the file anywhere after its first byte."""
    return data[:rng.randrange(1, len(data))] if len(data) > 1 else data


def splice(data: bytearray, rng: random.Random, family: str) -> bytearray:
    """A piece (8 bytes to 1 KiB) of another seed file, inserted or written over the same length."""
    donors = [d for files in seed_files().values() for d in files.values() if d != bytes(data)]
    donor = rng.choice(donors)
    length = rng.randint(8, min(1024, len(donor)))
    start = rng.randrange(len(donor) - length + 1)
    piece = donor[start:start + length]
    at = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        data[at:at] = piece
    else:
        data[at:at + length] = piece
    return data


def header_dimensions(data: bytearray, rng: random.Random, family: str) -> bytearray:
    """Rewrite a width or height field (or both) where the format keeps it."""
    fields = DIMENSION_FIELDS[family](bytes(data))
    if not fields:
        return bit_flips(data, rng, family)  # the header is already gone (an earlier mutation)
    chosen = rng.sample(fields, k=min(len(fields), rng.choice((1, 1, 2))))
    for field in chosen:
        field.write(data, _dimension(rng, field.read(data), field.bits))
    if family == "png":
        _maybe_fix_ihdr_crc(data, rng)
    return data


MUTATIONS: dict[str, Mutation] = {
    "bit_flips": bit_flips,
    "overwrite_run": overwrite_run,
    "truncate": truncate,
    "header_dimensions": header_dimensions,
    "splice": splice,
}


def _dimension(rng: random.Random, original: int, bits: int) -> int:
    top = (1 << bits) - 1
    value = rng.choice((0, 1, original + 1, max(1, original // 2), original * 2, original * 37,
                        top, 1 << (bits - 1), rng.randrange(1, top + 1), rng.randrange(1, 4097)))
    return min(value, top)


@dataclass(frozen=True)
class Field:
    """An unsigned integer in a header: where, how wide, which byte order, and any bias (WebP
    stores width - 1) or masked-off bits (VP8's scale bits)."""

    offset: int
    fmt: str
    bits: int
    bias: int = 0
    shift: int = 0

    def read(self, data: bytearray) -> int:
        (raw,) = struct.unpack_from(self.fmt, data, self.offset)
        return ((raw >> self.shift) & ((1 << self.bits) - 1)) + self.bias

    def write(self, data: bytearray, value: int) -> None:
        value = max(0, min(value - self.bias, (1 << self.bits) - 1))
        (raw,) = struct.unpack_from(self.fmt, data, self.offset)
        mask = ((1 << self.bits) - 1) << self.shift
        struct.pack_into(self.fmt, data, self.offset, (raw & ~mask) | (value << self.shift))


def _u24(offset: int) -> Field:
    """A 24-bit little-endian field minus one (WebP canvas and frame sizes), read through 32 bits
    when the byte after it exists (always, inside a VP8X or ANMF payload)."""
    return Field(offset, "<I", 24, bias=1)


def _jpeg_fields(data: bytes) -> list[Field]:
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn: P, Y, X
            return [Field(pos + 5, ">H", 16), Field(pos + 7, ">H", 16)]
        if marker == 0xDA:
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        pos += 2 + length
    return []


def _png_fields(data: bytes) -> list[Field]:
    return [Field(16, ">I", 32), Field(20, ">I", 32)] if data[12:16] == b"IHDR" and len(data) >= 24 else []


def _maybe_fix_ihdr_crc(data: bytearray, rng: random.Random) -> None:
    """Most of the time keep the IHDR CRC right, so the decoder meets the new size itself."""
    if rng.random() < 0.7 and len(data) >= 33:
        struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)


def _gif_fields(data: bytes) -> list[Field]:
    if len(data) < 13:
        return []
    fields = [Field(6, "<H", 16), Field(8, "<H", 16)]
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    while pos < len(data):
        if data[pos] == 0x2C and pos + 9 <= len(data):  # first image descriptor: x, y, w, h
            return [*fields, Field(pos + 5, "<H", 16), Field(pos + 7, "<H", 16)]
        if data[pos] != 0x21 or pos + 2 >= len(data):
            break
        pos += 2
        while pos < len(data) and data[pos]:
            pos += 1 + data[pos]
        pos += 1
    return fields


def _webp_fields(data: bytes) -> list[Field]:
    fields: list[Field] = []
    pos = 12
    while pos + 8 <= len(data):
        kind, (size,) = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if kind == b"VP8X" and body + 10 <= len(data):
            fields += [_u24(body + 4), Field(body + 6, "<I", 24, bias=1, shift=8)]
        elif kind == b"ANMF" and body + 12 <= len(data):
            fields += [_u24(body + 6), Field(body + 8, "<I", 24, bias=1, shift=8)]
            body, size = body + 16, 0  # the frame's own chunks follow its 16-byte header
        elif kind == b"VP8 " and body + 10 <= len(data):
            fields += [Field(body + 6, "<H", 14), Field(body + 8, "<H", 14)]
        elif kind == b"VP8L" and body + 5 <= len(data):
            fields += [Field(body + 1, "<I", 14, bias=1), Field(body + 1, "<I", 14, bias=1, shift=14)]
        pos = body + size + (size & 1)
    return fields


def _tiff_fields(data: bytes) -> list[Field]:
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return []
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    if ifd + 2 > len(data):
        return []
    (count,) = struct.unpack_from(order + "H", data, ifd)
    fields = []
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(data) - 11), 12):
        tag, kind = struct.unpack_from(order + "HH", data, entry)
        if tag in (256, 257) and kind in (3, 4):  # ImageWidth, ImageLength: SHORT or LONG
            fields.append(Field(entry + 8, order + ("H" if kind == 3 else "I"), 16 if kind == 3 else 32))
    return fields


def _ispe_fields(data: bytes) -> list[Field]:
    """Every ``ispe`` (image spatial extents) property: version/flags, then width and height."""
    fields = []
    pos = data.find(b"ispe")
    while pos >= 0 and pos + 16 <= len(data):
        fields += [Field(pos + 8, ">I", 32), Field(pos + 12, ">I", 32)]
        pos = data.find(b"ispe", pos + 4)
    return fields


DIMENSION_FIELDS: dict[str, Callable[[bytes], list[Field]]] = {
    "jpeg": _jpeg_fields, "png": _png_fields, "gif": _gif_fields, "webp": _webp_fields,
    "tiff": _tiff_fields, "avif": _ispe_fields, "heic": _ispe_fields,
}


# --- cases ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One mutated file: which seed it came from and what was done to it."""

    index: int
    family: str
    seed_name: str
    mutations: tuple[str, ...]
    data: bytes
    seed: int = DEFAULT_SEED

    @property
    def label(self) -> str:
        return f"seed {self.seed} #{self.index} {self.family}/{self.seed_name} {'+'.join(self.mutations)}"


def case(index: int, seed: int = DEFAULT_SEED) -> Case:
    """Case ``index`` of run ``seed``: family round-robin, the rest from ``Random(f"{seed}/{index}")``."""
    rng = random.Random(f"{seed}/{index}")
    family = FAMILIES[index % len(FAMILIES)]
    files = seed_files()[family]
    seed_name = rng.choice(sorted(files))
    data = bytearray(files[seed_name])
    names = rng.choices(sorted(MUTATIONS), k=rng.choices((1, 2, 3), weights=(70, 25, 5))[0])
    for name in names:
        data = MUTATIONS[name](data, rng, family)
    return Case(index, family, seed_name, tuple(names), bytes(data), seed)


def cases(count: int, seed: int = DEFAULT_SEED) -> list[Case]:
    return [case(i, seed) for i in range(count)]


# --- one file through the pipeline's image calls ----------------------------------------------

def run_case(data: bytes) -> tuple[str, str]:
    """``(PROCESSED, "")``, ``(REJECTED, reason_code)`` or ``(FAILURE, what happened)``, calling the
    image core as the validate, extract-metadata, resize and thumbnails steps do (same arguments,
    same limits, options and renditions, the thumbnails made from the resize step's output)."""
    from qip.functions import outputs, runtime
    from qip.imaging import extract_metadata, make_renditions, validate
    from qip.imaging.exceptions import InvalidImageError
    from qip.imaging.renditions import split, thumbnail_source
    from qip.imaging.rights import Rights

    limits, options = runtime.limits(), runtime.render_options()
    try:
        validate(data, limits)
    except InvalidImageError as invalid:
        return REJECTED, invalid.reason_code
    except Exception as error:  # what the property forbids: reported, not raised
        return FAILURE, f"validate: {_describe(error)}"
    stage = "extract_metadata"
    try:
        extract_metadata(data, limits)
        wanted = outputs.renditions().select("fuzz/case")
        large, small = split(wanted)
        stage = "resize"
        rendered = make_renditions(data, large, options, limits)
        stage = "thumbnails"
        source = thumbnail_source(wanted)
        made = next((o for o in rendered.outputs if source and o.name == source.name), None)
        if made is not None:
            make_renditions(made.data, small, options, limits, Rights.from_dict(rendered.rights.to_dict()))
        else:
            make_renditions(data, small, options, limits)
    except Exception as error:  # an accepted file must go through every step
        return FAILURE, f"{stage} after validate accepted: {_describe(error)}"
    return PROCESSED, ""


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {str(error)[:300]}"
    cause = error.__cause__
    return f"{text} (from {type(cause).__name__}: {str(cause)[:200]})" if cause is not None else text


def known_reason_codes() -> frozenset[str]:
    """Every reason code the imaging exceptions carry."""
    from qip.imaging import exceptions

    def walk(kind: type[exceptions.InvalidImageError]) -> Iterable[str]:
        yield kind.reason_code
        for sub in kind.__subclasses__():
            yield from walk(sub)

    return frozenset(walk(exceptions.InvalidImageError))


# --- workers ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What became of one case."""

    case: Case
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.case.label}: {self.kind} {self.detail}".rstrip()


def run(batch: list[Case], workers: int | None = None, target: str = RUN_CASE,
        deadline: int = DEADLINE_SECONDS, memory: int = MEMORY_LIMIT) -> list[Outcome]:
    """Every case's outcome, in the batch's order, from ``workers`` processes (default: one per core)."""
    if not batch:
        return []
    count = max(1, min(workers or _cores(), len(batch)))
    numbered = list(enumerate(batch))
    shares = [numbered[i::count] for i in range(count)]
    found: dict[int, Outcome] = {}
    with ThreadPoolExecutor(count) as pool:
        for share in pool.map(lambda s: _run_share(s, target, deadline, memory), shares):
            found.update(share)
    return [found[position] for position in range(len(batch))]


def _run_share(share: list[tuple[int, Case]], target: str, deadline: int, memory: int) -> dict[int, Outcome]:
    """{position in the batch: outcome} for one worker's share, restarting the worker after a death."""
    outcomes: dict[int, Outcome] = {}
    pending = list(share)
    by_position = dict(share)
    while pending:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.imaging_fuzz", "--worker", target, str(deadline), str(memory)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_worker_env())
        payload = pickle.dumps([(position, c.data) for position, c in pending])
        try:
            out, err = worker.communicate(payload, timeout=deadline * len(pending) + 60)
        except subprocess.TimeoutExpired:  # the alarm should have ended it: a last resort
            worker.kill()
            out, err = worker.communicate()
        lines = out.decode().splitlines()
        if lines[:1] != [READY]:
            raise RuntimeError(f"the fuzz worker did not start (status {worker.returncode}): "
                               f"{err.decode(errors='replace')[-2000:]}")
        for line in lines[1:]:
            try:
                position, kind, detail = json.loads(line)
            except ValueError:  # a line cut short as the worker died
                continue
            outcomes[position] = Outcome(by_position[position], kind, detail)
        pending = [(position, c) for position, c in pending if position not in outcomes]
        if pending:  # the worker died on the first case it did not answer
            position, died_on = pending.pop(0)
            outcomes[position] = Outcome(died_on, FAILURE, _death(worker.returncode, err, deadline))
    return outcomes


def _death(returncode: int, stderr: bytes, deadline: int) -> str:
    tail = " | ".join(stderr.decode(errors="replace").strip().splitlines()[-3:])
    if returncode == -signal.SIGALRM:
        return f"hang: no outcome within the {deadline} s deadline"
    if returncode < 0:
        return f"crash: worker killed by {signal.Signals(-returncode).name} {tail}".rstrip()
    return f"crash: worker exited with status {returncode} {tail}".rstrip()


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "src"), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker(target: str, deadline: int, memory: int) -> None:
    """Read pickled ``[(position, bytes)]`` from stdin; print one JSON ``[position, kind, detail]``
    per case. SIGALRM keeps its default action: a case past the deadline ends the process."""
    module, _, name = target.partition(":")
    call: Callable[[bytes], tuple[str, str]] = getattr(importlib.import_module(module), name)
    batch = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - written by our own parent
    call(seed_files()["png"]["rgb"])  # warm up (plugins, codecs, colour engine) before the clock runs
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # even if the parent ignored it
    sys.stdout.write(READY + "\n")
    for position, data in batch:
        signal.alarm(deadline)
        kind, detail = call(data)
        signal.alarm(0)
        sys.stdout.write(json.dumps([position, kind, detail]) + "\n")
        sys.stdout.flush()


# --- command line -----------------------------------------------------------------------------

def summary(outcomes: list[Outcome]) -> str:
    """Counts by outcome (rejections by reason code), then by family, then every failure."""
    by_outcome = Counter(o.kind if o.kind != REJECTED else f"rejected:{o.detail}" for o in outcomes)
    lines = [f"{len(outcomes)} cases"]
    lines += [f"  {name:28} {count}" for name, count in sorted(by_outcome.items())]
    lines.append("by family (processed / rejected / failure):")
    for family in FAMILIES:
        kinds = Counter(o.kind for o in outcomes if o.case.family == family)
        lines.append(f"  {family:6} {kinds[PROCESSED]:5} {kinds[REJECTED]:5} {kinds[FAILURE]:5}")
    lines += [f"FAILURE {o}" for o in outcomes if o.kind == FAILURE]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        worker(argv[1], int(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m tests.imaging_fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=3000, help="how many mutated files (default 3000)")
    parser.add_argument("seed", nargs="?", type=int, default=DEFAULT_SEED, help=f"run seed (default {DEFAULT_SEED})")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--case", type=int, action="append", help="run only this case index (repeatable)")
    parser.add_argument("--save", type=Path, help="write each failing case's bytes into this folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    chosen = [case(i, args.seed) for i in args.case] if args.case else cases(args.count, args.seed)
    outcomes = run(chosen, args.workers)
    print(summary(outcomes))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(f"seed {args.seed}, {time.perf_counter() - started:.1f} s, largest worker RSS {peak:.0f} MiB "
          f"(limit: {MEMORY_LIMIT // 2 ** 20} MiB of address space, {DEADLINE_SECONDS} s a file)")
    failures = [o for o in outcomes if o.kind == FAILURE]
    if args.save and failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for o in failures:
            (args.save / f"case-{o.case.index}-{o.case.family}.bin").write_bytes(o.case.data)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
