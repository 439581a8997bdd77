# -*- coding: utf-8 -*-
"""Find or build NVIDIA's real ``nvidia-ctk`` for the differential test.

Order:

1. ``GPUFLEET_NVIDIA_CTK``: the path of an ``nvidia-ctk`` binary to use as is;
2. ``<out>/<arch>/nvidia-ctk`` when it exists and ``<out>/<arch>/VERSION``
   names the toolkit version and commit of the source tarball, where
   ``<out>`` is ``GPUFLEET_TOOLKIT_OUT`` (default
   ``/var/cache/gpufleet-toolkit-out``);
3. otherwise ``build.sh <out>/<arch> <arch>`` of the toolkit source folder
   (``GPUFLEET_TOOLKIT_SRC``, default ``<repo>/../shared/toolkit``), under a
   lock so that two test processes do not build at once.  ``build.sh``
   downloads Debian's Go with the machine's own apt sources the first time
   and keeps its caches under ``GPUFLEET_TOOLKIT_CACHE``.

:func:`locate` returns ``(path, None)`` or ``(None, reason)``; the reason is
a skip only outside CI and only when the toolkit source folder is absent.
In CI (``CI`` set to anything but ``""``/``0``/``false``), and whenever a
build was attempted and failed, the caller must fail instead.
"""
import fcntl
import os
import platform
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

TOOLKIT_VERSION = "1.20.0"
BUILD_TIMEOUT = 1800


class ToolkitBuildError(RuntimeError):
    """nvidia-ctk could not be built; the message has build.sh's output."""


def in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def toolkit_src():
    return os.environ.get("GPUFLEET_TOOLKIT_SRC") or os.path.normpath(
        os.path.join(REPO_ROOT, "..", "shared", "toolkit"))


def go_arch():
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _expected_commit(src):
    """The source commit build.sh stamps into VERSION."""
    try:
        with open(os.path.join(src, "build.sh")) as handle:
            match = re.search(r"^COMMIT=([0-9a-f]{40})$", handle.read(), re.MULTILINE)
    except (IOError, OSError):
        return None
    return match.group(1) if match else None


def _version_file_ok(outdir, commit):
    try:
        with open(os.path.join(outdir, "VERSION")) as handle:
            text = handle.read()
    except (IOError, OSError):
        return False
    return "version=%s\n" % TOOLKIT_VERSION in text and (commit is None or "commit=%s\n" % commit in text)


def _usable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def build(src, outdir, arch):
    """Run build.sh into ``outdir`` (under a lock); raise ToolkitBuildError."""
    parent = os.path.dirname(outdir)
    if not os.path.isdir(parent):
        os.makedirs(parent)
    with open(os.path.join(parent, ".build-%s.lock" % arch), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = os.path.join(outdir, "nvidia-ctk")
        if _usable(binary) and _version_file_ok(outdir, _expected_commit(src)):
            return binary  # built by another process while we waited
        try:
            proc = subprocess.run(["bash", os.path.join(src, "build.sh"), outdir, arch],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=BUILD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ToolkitBuildError("%s/build.sh %s %s did not finish within %d s"
                                    % (src, outdir, arch, BUILD_TIMEOUT))
        if proc.returncode != 0 or not _usable(binary):
            raise ToolkitBuildError("%s/build.sh %s %s failed (rc=%d):\n%s"
                                    % (src, outdir, arch, proc.returncode, proc.stdout[-4000:]))
        return binary


def locate():
    """``(path, None)``, or ``(None, reason)`` when the test may be skipped.

    Raises ToolkitBuildError when nvidia-ctk cannot be had and skipping is
    not allowed (in CI, or the source is there but the build failed).
    """
    override = os.environ.get("GPUFLEET_NVIDIA_CTK")
    if override:
        if not _usable(override):
            raise ToolkitBuildError("GPUFLEET_NVIDIA_CTK=%s is not an executable file" % override)
        return override, None
    arch = go_arch()
    src = toolkit_src()
    outdir = os.path.join(os.environ.get("GPUFLEET_TOOLKIT_OUT") or "/var/cache/gpufleet-toolkit-out", arch)
    binary = os.path.join(outdir, "nvidia-ctk")
    has_src = os.path.isfile(os.path.join(src, "build.sh"))
    if _usable(binary) and _version_file_ok(outdir, _expected_commit(src) if has_src else None):
        return binary, None
    if not has_src:
        reason = ("the NVIDIA Container Toolkit source folder %s (build.sh) is absent and no nvidia-ctk "
                  "was built into %s; set GPUFLEET_NVIDIA_CTK to a built nvidia-ctk %s"
                  % (src, outdir, TOOLKIT_VERSION))
        if in_ci():
            raise ToolkitBuildError(reason)
        return None, reason
    return build(src, outdir, arch), None


def version(binary):
    """First line of ``nvidia-ctk --version``."""
    out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=60, check=False).stdout
    return out.splitlines()[0] if out else ""
