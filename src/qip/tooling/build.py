"""Build the Lambda deployment artifact: one zip with the `qip` package and every runtime dependency.

The same zip is deployed to AWS and to the local engine (built for the machine's own architecture),
so what runs locally is what ships. How and why (docs/deploy-to-aws.md, "Packaging"):

- Runtime: the template's `Runtime` (one place). `python3.11` today: the local engine runs each
  function on the interpreter it runs under (this machine's Python 3.11), and native wheels are
  built per Python version, so a cp312 zip could not be imported locally.
- Dependencies: the names in pyproject.toml's `[project].dependencies`, the versions from
  requirements.lock (one source of truth), installed with `pip install --platform manylinux_2_X_<arch>
  --only-binary=:all: --python-version 3.11 --implementation cp --target ...`: the wheels for Lambda's
  platform, whatever the building machine is. The glibc floor comes from the runtime's OS
  (python3.11: Amazon Linux 2, glibc 2.26; python3.12+: Amazon Linux 2023, glibc 2.34), so a wheel
  that would not load on Lambda is refused at build time. (`sam build` needs the runtime's own
  interpreter on PATH and refuses manylinux_2_28 wheels; pip does neither.)
- Of `qip`, the zip holds exactly the packages the functions run: `qip.core`, `qip.imaging` and
  `qip.functions` (whole, by rule; the operator's client, the command line, the dashboard and this
  tooling never ship). No bytecode caches, console scripts, type stubs or dev tools; dist-info
  keeps METADATA and licences only.
- Bytecode: every module is compiled (`--invalidation-mode unchecked-hash`, so extraction, which
  does not keep file times, cannot invalidate it). Lambda's code folder is read-only, so without
  it each cold start compiles ~700 modules: a handler's import took 0.6-0.9 s against 0.25-0.35 s
  with it (bench/cold_start.py). Compiled by this interpreter, so only when it is the runtime's
  Python version (a cpython-311 .pyc would be ignored by another).
- Cached by content hash: the dependency set (lock, names, runtime, platform) and the code are
  hashed separately, so a code change re-zips in about a second and an unchanged tree is instant.

For the local engine, `build_local()` makes a thin zip instead: `qip`'s shipped packages with
their bytecode, and no dependencies. The engine's workers run on the engine's own interpreter, the
project's venv, whose site-packages come after the code folder on sys.path and hold the same
pinned dependencies (checked against requirements.lock at build time). Every worker the engine
spawns unpacks its zip in the server process: the full zip cost ~0.5 s of server CPU and 75 MB of
disk per worker, the thin one ~5 ms and 1 MB. The full zip is still what ships, and the tests run
it alone in a clean interpreter against the engine (tests/integration/test_shipping.py).
"""

from __future__ import annotations

import compileall
import fcntl
import hashlib
import importlib.metadata
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qip.tooling.errors import BuildError
from qip.tooling.paths import PROJECT_ROOT, TEMPLATE

LOCK = PROJECT_ROOT / "requirements.lock"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
SOURCE = PROJECT_ROOT / "src"
BUILD_DIR = PROJECT_ROOT / "build"
# Bump when the artifact's layout or pruning changes, so cached builds are not reused.
FORMAT = "2"

# Lambda architecture -> (machine name in wheel tags, ELF e_machine of its shared libraries).
ARCHITECTURES = {"arm64": ("aarch64", 183), "x86_64": ("x86_64", 62)}
# Lambda Python runtime -> newest glibc of its OS (Amazon Linux 2: 2.26; Amazon Linux 2023: 2.34).
GLIBC_MINOR = {"python3.11": 26, "python3.12": 34, "python3.13": 34, "python3.14": 34}
# The packages of `qip` that ship to Lambda, whole: what the functions import, and nothing else
# (tests/unit/test_layering.py proves that they import nothing outside these).
SHIPPED_PACKAGES = ("qip/core/", "qip/imaging/", "qip/functions/")
SHIPPED_FILES = ("qip/__init__.py",)
# Configuration the functions read, at the zip's root (where `sam build`, copying src/, puts it too).
SHIPPED_CONFIG = ("renditions.yaml",)
# Packages that are tools for building, never needed at run time.
DEV_TOOLS = ("pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack", "pytest", "_pytest")
_DIST_INFO_KEEP = re.compile(r"^(METADATA|WHEEL|top_level\.txt|LICEN[CS]E.*|COPYING.*|NOTICE.*|AUTHORS.*|licenses)$")
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


@dataclass(frozen=True)
class Artifact:
    """A built deployment zip and what it is for."""

    path: Path
    arch: str
    runtime: str
    zipped_bytes: int
    unzipped_bytes: int
    sha256: str
    requirements: Path
    cached: bool
    seconds: float

    def summary(self) -> str:
        how = "cached" if self.cached else f"built in {self.seconds:.1f} s"
        return (f"{self.path} ({self.runtime}, {self.arch}): {self.zipped_bytes / 2**20:.1f} MB zipped, "
                f"{self.unzipped_bytes / 2**20:.1f} MB unzipped (Lambda's limit: 250 MB); {how}")


# ---------------------------------------------------------------------- what goes in
def runtime(template: Path = TEMPLATE) -> str:
    """The functions' Lambda runtime, as the template's Globals say."""
    match = re.search(r"^\s+Runtime:\s*(python3\.\d+)\s*$", template.read_text(), re.MULTILINE)
    if not match:
        raise BuildError(f"{template}: no `Runtime: python3.N` in the function Globals")
    return match.group(1)


def python_version(runtime_name: str) -> str:
    return runtime_name.removeprefix("python")


def machine_arch() -> str:
    """This machine's Lambda architecture name (what the local engine runs)."""
    import platform

    return "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_normal(name.split("[")[0])] = version.strip()
    return pins


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The names the functions need at run time: pyproject.toml's [project].dependencies."""
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def platforms(arch: str, runtime_name: str) -> list[str]:
    """Every manylinux tag Lambda's OS accepts, newest first (pip does not expand them itself)."""
    machine = ARCHITECTURES[arch][0]
    newest = GLIBC_MINOR.get(runtime_name)
    if newest is None:
        raise BuildError(f"runtime {runtime_name} is not one this build knows: {', '.join(GLIBC_MINOR)}")
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, 4, -1)]
    legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
    return tags + [f"{name}_{machine}" for name, minor in legacy.items() if minor <= newest]


def code_files(source: Path = SOURCE) -> list[Path]:
    """The `qip` files the functions need: the shipped packages whole, no caches."""
    files = []
    for path in sorted((source / "qip").rglob("*")):
        relative = path.relative_to(source).as_posix()
        if (not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")
                or not (relative.startswith(SHIPPED_PACKAGES) or relative in SHIPPED_FILES)):
            continue
        files.append(path)
    return files + [source / name for name in SHIPPED_CONFIG if (source / name).is_file()]


# ---------------------------------------------------------------------- hashing
def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def dependencies_key(arch: str, runtime_name: str, lock: Path = LOCK, pyproject: Path = PYPROJECT) -> str:
    names = sorted(_normal(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in runtime_dependencies(pyproject))
    pins = locked_versions(lock)
    return _digest(FORMAT.encode(), arch.encode(), runtime_name.encode(), "\n".join(names).encode(),
                   "\n".join(f"{k}=={v}" for k, v in sorted(pins.items())).encode())


def code_key(source: Path = SOURCE) -> str:
    return _digest(*[part for path in code_files(source)
                     for part in (path.relative_to(source).as_posix().encode(), path.read_bytes())])


# ---------------------------------------------------------------------- build
def build(arch: str = "arm64", out: Path = BUILD_DIR, progress: Callable[[str], None] = lambda _: None,
          template: Path = TEMPLATE) -> Artifact:
    """The deployment zip for `arch`, from the cache when nothing it is made of changed."""
    if arch not in ARCHITECTURES:
        raise BuildError(f"--arch must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    started = time.monotonic()
    runtime_name = runtime(template)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    deps_key = dependencies_key(arch, runtime_name)
    name = f"qip-lambda-{runtime_name}-{arch}-{_digest(deps_key.encode(), code_key().encode())[:16]}"
    target = out / f"{name}.zip"
    with _locked(out / ".build.lock"):
        deps = _dependencies(arch, runtime_name, deps_key, out / "cache", progress)
        cached = target.exists()
        if not cached:
            progress(f"zipping the code of qip with the dependencies into {target.name}")
            _with_code(deps / "dependencies.zip", target, runtime_name)
            for old in out.glob(f"qip-lambda-{runtime_name}-{arch}-*.zip"):
                if old != target:
                    old.unlink(missing_ok=True)
    with zipfile.ZipFile(target) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    if unzipped > LAMBDA_UNZIPPED_LIMIT:
        raise BuildError(f"{target} unzips to {unzipped / 2**20:.0f} MB, over Lambda's 250 MB limit")
    return Artifact(target, arch, runtime_name, target.stat().st_size, unzipped, _file_sha256(target),
                    deps / "requirements.txt", cached, time.monotonic() - started)


def _dependencies(arch: str, runtime_name: str, key: str, cache: Path, progress: Callable[[str], None]) -> Path:
    """A folder with `dependencies.zip` (the installed wheels) and `requirements.txt` (their pins)."""
    folder = cache / f"deps-{runtime_name}-{arch}-{key[:16]}"
    if (folder / "dependencies.zip").exists():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"deps-{runtime_name}-{arch}-*"):
        shutil.rmtree(old, ignore_errors=True)
    progress(f"installing the runtime dependencies for {runtime_name} on {arch} (pip, once per lock)")
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        site = Path(scratch) / "site"
        _pip_install(site, arch, runtime_name)
        pins = _check_pins(site)
        _prune(site)
        _compile_tree(site, runtime_name)
        staging = Path(scratch) / "out"
        staging.mkdir()
        (staging / "requirements.txt").write_text(
            f"# Runtime dependencies in the Lambda artifact ({runtime_name}, {arch}); derived from "
            f"requirements.lock by `qip build`.\n" + "".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        _zip_folder(site, staging / "dependencies.zip")
        os.replace(staging, folder)
    return folder


def _pip_install(site: Path, arch: str, runtime_name: str) -> None:
    version = python_version(runtime_name)
    command = [sys.executable, "-m", "pip", "install", "--target", str(site), "--only-binary=:all:",
               "--implementation", "cp", "--python-version", version, "--abi", f"cp{version.replace('.', '')}",
               *[arg for tag in platforms(arch, runtime_name) for arg in ("--platform", tag)],
               "--no-compile", "--no-input", "--disable-pip-version-check", "--quiet",
               "--constraint", str(LOCK), *runtime_dependencies()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)  # noqa: S603 - our own pip
    if result.returncode != 0:
        errors = "\n".join(line for line in (result.stderr + result.stdout).splitlines()
                           if "is ignored: it is neither a file nor a directory" not in line)
        raise BuildError(f"pip could not install the runtime dependencies for {runtime_name} on {arch} "
                         f"(a wheel for that platform may not exist at the locked version):\n{errors[-3000:]}")


def _check_pins(site: Path) -> dict[str, str]:
    """Every installed distribution is pinned in requirements.lock at the installed version."""
    pins = locked_versions()
    installed = {}
    for dist_info in site.glob("*.dist-info"):
        metadata = (dist_info / "METADATA").read_text(errors="replace")
        name = _metadata_field(dist_info, metadata, "Name")
        version = _metadata_field(dist_info, metadata, "Version")
        installed[name] = version
    unpinned = [f"{n}=={v}" for n, v in installed.items() if pins.get(_normal(n)) != v]
    if unpinned:
        raise BuildError("runtime dependencies not pinned in requirements.lock at these versions: "
                         + ", ".join(sorted(unpinned)) + "; pin them there")
    return installed


def _metadata_field(dist_info: Path, metadata: str, field: str) -> str:
    """One header of a distribution's METADATA (`Name`, `Version`); BuildError when it has none."""
    found = re.search(rf"^{field}:\s*(.+)$", metadata, re.MULTILINE)
    if found is None:
        raise BuildError(f"{dist_info / 'METADATA'} has no {field} field; the installed distribution is broken")
    return found.group(1).strip()


def _prune(site: Path) -> None:
    """Drop what only development needs: caches, scripts, stubs, install records, dev tools."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for path in sorted(site.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".pyc", ".pyo", ".pyi"):
            path.unlink()
    for dist_info in site.glob("*.dist-info"):
        for entry in dist_info.iterdir():
            if not _DIST_INFO_KEEP.match(entry.name):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    present = [tool for tool in DEV_TOOLS if (site / tool).exists()]
    if present:
        raise BuildError(f"development tools ended up in the artifact: {', '.join(present)}")


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            _add(archive, path.relative_to(folder).as_posix(), path)


def _with_code(dependencies: Path, target: Path, runtime_name: str) -> None:
    """The dependencies' zip with the `qip` package appended (fast: nothing is recompressed)."""
    partial = target.with_suffix(".partial")
    shutil.copyfile(dependencies, partial)
    with zipfile.ZipFile(partial, "a", zipfile.ZIP_DEFLATED) as archive:
        taken = set(archive.namelist())
        for name, data in _code_entries(runtime_name):
            if name in taken:
                raise BuildError(f"{name} is both in a dependency and in the qip package")
            _add_bytes(archive, name, data)
    os.replace(partial, target)


def _code_entries(runtime_name: str) -> Iterator[tuple[str, bytes]]:
    """(name in the zip, bytes) of each shipped `qip` file and, where it applies, its bytecode."""
    compiled = _compiles_for(runtime_name)
    with tempfile.TemporaryDirectory(prefix="qip-pyc-") as scratch:
        for path in code_files():
            name = path.relative_to(SOURCE).as_posix()
            yield name, path.read_bytes()
            if compiled and path.suffix == ".py":
                pyc = Path(scratch) / name
                py_compile.compile(str(path), cfile=str(pyc), dfile=name, doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                yield _pyc_name(name), pyc.read_bytes()


def _pyc_name(name: str) -> str:
    folder, _, file = name.rpartition("/")
    cached = f"__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
    return f"{folder}/{cached}" if folder else cached


def _compiles_for(runtime_name: str) -> bool:
    """Bytecode made here runs only on this interpreter's Python version."""
    return python_version(runtime_name) == f"{sys.version_info.major}.{sys.version_info.minor}"


def _compile_tree(site: Path, runtime_name: str) -> None:
    if not _compiles_for(runtime_name):
        return
    # The result is False when a file does not compile: a few distributions ship files that are
    # not valid Python on purpose (templates, test fixtures); those stay as they are.
    compileall.compile_dir(str(site), quiet=2, workers=0,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def build_local(out: Path = BUILD_DIR, progress: Callable[[str], None] = lambda _: None,
                template: Path = TEMPLATE) -> Artifact:
    """The thin zip the local engine runs: `qip`'s shipped packages and their bytecode, no
    dependencies (the engine's workers take them from this venv, checked against the lock)."""
    started = time.monotonic()
    runtime_name = runtime(template)
    _check_venv_pins()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    name = f"qip-local-{runtime_name}-{_digest(FORMAT.encode(), code_key().encode())[:16]}"
    target = out / f"{name}.zip"
    with _locked(out / ".build.lock"):
        cached = target.exists()
        if not cached:
            progress(f"zipping the code of qip for the local engine into {target.name}")
            partial = target.with_suffix(".partial")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
                for entry, data in _code_entries(runtime_name):
                    _add_bytes(archive, entry, data, zipfile.ZIP_STORED)
            os.replace(partial, target)
            for old in out.glob(f"qip-local-{runtime_name}-*.zip"):
                if old != target:
                    old.unlink(missing_ok=True)
    with zipfile.ZipFile(target) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return Artifact(target, machine_arch(), runtime_name, target.stat().st_size, unzipped, _file_sha256(target),
                    LOCK, cached, time.monotonic() - started)


def _check_venv_pins() -> None:
    """The local engine's workers import the dependencies from this venv: they must be the locked ones."""
    pins = locked_versions()
    wrong = []
    for requirement in runtime_dependencies():
        name = _normal(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if pins.get(name) != installed:
            wrong.append(f"{name} {installed} (locked: {pins.get(name, 'not pinned')})")
    if wrong:
        raise BuildError("the local engine runs the functions on this venv, whose runtime dependencies differ "
                         "from requirements.lock: " + ", ".join(wrong) + "; run ./dev install")


def _add(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    """One file with a fixed timestamp and readable permissions, so equal inputs give an equal zip."""
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    mode = path.stat().st_mode & 0o777
    info.external_attr = ((mode | 0o444) & 0o755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes())


def _add_bytes(archive: zipfile.ZipFile, name: str, data: bytes, compression: int = zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = compression
    archive.writestr(info, data)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per output folder (parallel test workers share the cache)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------- checks of a built zip
def native_libraries(artifact: Path) -> dict[str, int]:
    """Every ELF file in the zip and its e_machine (62 = x86_64, 183 = aarch64)."""
    found = {}
    with zipfile.ZipFile(artifact) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                header = member.read(20)
            if header[:4] == b"\x7fELF":
                order: Literal["little", "big"] = "little" if header[5] == 1 else "big"
                found[info.filename] = int.from_bytes(header[18:20], order)
    return found
