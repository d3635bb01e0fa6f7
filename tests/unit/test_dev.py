"""`./dev`'s browser step (what `./dev test` runs before the suite), on a PATH made for each case: it
uses a Chromium it finds, installs Debian's only when it can, and otherwise stops saying what to do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests import readme

TOOLS = ("bash", "dirname", "sed", "cat", "env", "chmod")  # what the script (and the fake apt-get) call


def bin_folder(tmp_path: Path, **scripts: str) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    for name, body in scripts.items():
        path = folder / name.replace("_", "-")
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return folder


def dev_browser(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(folder / "bash"), str(readme.ROOT / "dev"), "browser"], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(folder)})


def test_a_chromium_on_path_is_used_as_it_is(tmp_path):
    folder = bin_folder(tmp_path, chromium="exit 0", apt_get=f"echo called >> {tmp_path}/apt; exit 1")
    result = dev_browser(folder)
    assert result.returncode == 0, result.stderr
    assert str(folder / "chromium") in result.stderr
    assert not (tmp_path / "apt").exists()


def test_without_apt_it_stops_and_says_what_to_install(tmp_path):
    result = dev_browser(bin_folder(tmp_path, id="echo 0"))
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "need Chromium" in message and "installing Debian's chromium package with apt-get" in message
    assert "Install Chromium yourself" in message and "QIP_TEST_CHROMIUM" in message
    assert "./dev demo and ./dev qip need no browser" in message


def test_without_root_or_sudo_apt_is_not_even_tried(tmp_path):
    folder = bin_folder(tmp_path, id="echo 1000", apt_get=f"echo called >> {tmp_path}/apt; exit 1")
    result = dev_browser(folder)
    assert result.returncode == 1 and "root or sudo without a password" in result.stderr
    assert not (tmp_path / "apt").exists()


def test_as_root_it_installs_debian_s_chromium(tmp_path):
    # apt-get "installs" by putting a chromium on PATH, as the package does in /usr/bin
    folder = tmp_path / "bin"
    install = (f'echo "$*" >> {tmp_path}/apt; case "$*" in *install*) printf "#!/bin/sh\\n" > {folder}/chromium;'
               f" chmod +x {folder}/chromium;; esac")
    bin_folder(tmp_path, id="echo 0", apt_get=install)
    result = dev_browser(folder)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "apt").read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
    assert str(folder / "chromium") in result.stderr
