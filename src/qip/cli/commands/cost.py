"""`qip cost`: what a million images would cost on AWS, measured by a run on the local stack."""

from __future__ import annotations

import argparse
import io
import time

from rich.table import Table

from qip.cli import output, targets
from qip.cli.exits import Exit
from qip.client import cost as model
from qip.client.pipeline import Pipeline
from qip.core.errors import ConfigurationError


def photo_jpeg(width: int, height: int, seed: int) -> bytes:
    """Photo-like pixels (gradients and grain, as codecs see photographs), as a JPEG q90."""
    from PIL import Image

    base = Image.linear_gradient("L").resize((width, height))
    grain = Image.effect_noise((width, height), 30 + seed)
    bands = [Image.blend(base, grain, 0.35), base.rotate(90 * (seed % 4)).resize((width, height)),
             Image.blend(grain, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.5)]
    out = io.BytesIO()
    Image.merge("RGB", bands).save(out, "JPEG", quality=90)
    return out.getvalue()


def cost(args: argparse.Namespace) -> Exit:
    if args.aws:
        raise ConfigurationError("`qip cost` measures a run on the local stack (it uploads images); drop --aws")
    if args.images < 1:
        raise ConfigurationError("--images must be at least 1")
    info = targets.stack(args)
    pipeline = Pipeline(info)
    width, height = _size(args.megapixels)
    run_id = time.strftime("%Y%m%d-%H%M%S")
    keys = [f"cost-run/{run_id}/{i:03d}.jpg" for i in range(args.images)]
    s3 = info.client("s3")
    since = time.time()
    if not args.json:
        output.console.print(f"uploading {len(keys)} photo-like {args.megapixels} MP JPEGs and waiting for them...")
    for i, key in enumerate(keys):
        s3.put_object(Bucket=info.upload_bucket, Key=key, Body=photo_jpeg(width, height, i), ContentType="image/jpeg")
    records = pipeline.wait(keys, timeout=args.timeout, poll=1.0)
    unfinished = sorted(k for k, r in records.items() if r.get("status") != "COMPLETED")
    if unfinished:
        raise ConfigurationError(f"{len(unfinished)} of the run's images did not complete (e.g. {unfinished[0]}); "
                                 f"see `qip status {unfinished[0]}`")
    model.wait_for_logs()
    run = model.collect(info, keys, since)
    prices = model.prices()
    report = model.report(run, prices)
    report["choices_per_million_usd"] = model.choices(run, prices)
    if args.json:
        output.print_json(report)
        return Exit.OK
    table = Table(title=f"Cost per million images on AWS (us-east-1 prices of {report['prices']['as_of']}, "
                        "free tiers left out)")
    for column in ("service", "what", "per image", "USD per million"):
        table.add_column(column, justify="right" if column != "what" and column != "service" else "left")
    for term in sorted(report["terms"], key=lambda t: -t["per_million_usd"]):
        table.add_row(term["service"], term["what"], f"{term['per_image']:.4g}", f"{term['per_million_usd']:.2f}")
    output.out.print(table)
    output.out.print(f"total: ${report['per_million_usd']:.2f} per million images "
                     f"(biggest: {'; '.join(report['biggest'])})")
    output.out.print(f"a year of storage: ${report['storage_year_per_million_usd']:.2f} per million images")
    fixed = report["fixed_monthly_usd"]
    output.out.print(f"fixed, whatever the volume: ${sum(fixed.values()):.2f} a month "
                     f"({'; '.join(f'{label} ${usd:.2f}' for label, usd in fixed.items())})")
    for label, usd in report["choices_per_million_usd"].items():
        output.out.print(f"  {label}: ${usd:.2f}")
    if run.other_executions:
        output.console.print(f"[yellow]note:[/] {run.other_executions} runs of other uploads were on the stack "
                             "during the measurement; the functions' counts include their work. "
                             "Run `qip cost` on an idle stack for exact figures.")
    return Exit.OK


def _size(megapixels: float) -> tuple[int, int]:
    width = int((megapixels * 1_000_000 * 4 / 3) ** 0.5)
    return width, int(width * 3 / 4)
