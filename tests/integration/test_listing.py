"""`qip list --prefix` on the real engine: the by-key index answers it, reading nothing outside the prefix.

Files that are not images are REJECTED at ingest (no pipeline run), so the records cost a second.
"""

from __future__ import annotations

import json
import uuid

from qip.cli import app as cli
from qip.core import aws
from tests.dynamo_reads import Reads


def test_list_prefix_reads_only_the_prefix_and_pages_newest_first(stack, capsys):
    root = f"listing-{uuid.uuid4().hex[:8]}/"
    inside = [f"{root}in/{i}.jpg" for i in range(3)]
    outside = [f"{root}in.jpg", f"{root}out/0.jpg"]  # share text with the prefix, not the prefix
    for key in inside + outside:
        stack.put(key, b"not an image", "image/jpeg")
    stack.wait(inside + outside)
    table = aws.table(stack.info.metadata_table, stack.info.endpoint_url, stack.info.region)
    reads = Reads(table.meta.client)
    argv = ["--port", str(stack.engine.port), "--home", str(stack.engine.home), "--stack", stack.name]

    assert cli.main([*argv, "list", "--prefix", f"{root}in/", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    listed = [item["key"] for item in items]
    assert sorted(listed) == sorted(inside)
    uploaded = [item["uploaded_at"] for item in items]
    assert uploaded == sorted(uploaded, reverse=True)  # newest first
    assert reads.keys and all(key.startswith(f"{root}in/") for key in reads.keys), reads.keys
    assert set(reads.operations) == {("Query", "by-key"), ("BatchGetItem", None)}

    assert cli.main([*argv, "list", "--prefix", f"{root}in/", "--limit", "2", "--json"]) == 0
    captured = capsys.readouterr()
    token = captured.err.split("--after", 1)[1].split()[0]
    assert cli.main([*argv, "list", "--prefix", f"{root}in/", "--limit", "2", "--after", token, "--json"]) == 0
    rest = json.loads(capsys.readouterr().out)
    assert [item["key"] for item in json.loads(captured.out) + rest] == listed
