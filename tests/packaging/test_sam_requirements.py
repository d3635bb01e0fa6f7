"""`sam build` installs src/requirements.txt; it must be exactly the artifact `qip build` makes from
requirements.lock: the same distributions at the same versions (one set of pins, checked)."""

from __future__ import annotations

import re
import zipfile

from qip.tooling import build

REQUIREMENTS = build.SOURCE / "requirements.txt"


def pins() -> dict[str, str]:
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned with =="
            found[build._normal(name)] = version
    return found


def test_every_pin_is_the_lock_s():
    locked = build.locked_versions()
    assert {name: locked.get(name) for name in pins()} == pins()


def test_the_pins_are_exactly_the_artifact_s_distributions():
    artifact = build.build(build.machine_arch())
    with zipfile.ZipFile(artifact.path) as archive:
        bundled = {build._normal(m.group(1)): m.group(2)
                   for m in (re.match(r"(.+?)-([^-/]+)\.dist-info/", n) for n in archive.namelist()) if m}
    assert pins() == bundled
    assert {build._normal(d) for d in build.runtime_dependencies()} <= set(pins())
