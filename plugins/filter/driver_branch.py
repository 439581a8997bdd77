# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that choose and check an NVIDIA driver branch for a host's GPUs.

All knowledge about architectures comes from
``plugins/module_utils/_gpu_arch.py``; these filters only combine it for the
GPUs of one host.  Every filter accepts the GPUs as an architecture name, a
list of architecture names, or the ``gpus`` list of ``ansible_facts.nvidia``
(each GPU's ``architecture``, else its ``compute_capability``, else its
``device_id`` is used).

Documentation of each filter is in the YAML file of the same name next to
this one (``driver_branch_for.yml`` ...), which ``ansible-doc -t filter`` reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _gpu_arch as gpu_arch

KERNEL_MODULES = ("auto", "open", "proprietary")
SOURCES = ("cuda_repo", "distro", "runfile")

# A branch is the major version alone; an exact version is NVIDIA's
# <major>.<minor>[.<patch>] (580.95.05, 535.247.01, 390.157).
_BRANCH = re.compile(r"^[1-9][0-9]{2}$")
_VERSION = re.compile(r"^([1-9][0-9]{2})\.([0-9]{1,3})(?:\.([0-9]{1,3}))?$")
_RUNFILE_VERSION = re.compile(r"([1-9][0-9]{2}\.[0-9]{1,3}(?:\.[0-9]{1,3})?)\.run$")
# get_url checksum algorithms accepted for the .run installer, with the
# length of their hexadecimal digest: sha256 or stronger.
STRONG_CHECKSUMS = {"sha256": 64, "sha384": 96, "sha512": 128}


def _architecture_of(gpu):
    if isinstance(gpu, str):
        return gpu.strip()
    if isinstance(gpu, dict):
        arch = gpu.get("architecture")
        if arch:
            return arch
        arch = gpu_arch.architecture_from_compute_capability(gpu.get("compute_capability"))
        if arch:
            return arch
        found = gpu_arch.lookup_device(gpu.get("device_id"))
        if found:
            return found["architecture"]
        raise AnsibleFilterError(
            "GPU %s (device id %s) has no known architecture; set driver_branch and "
            "driver_kernel_module explicitly" % (gpu.get("pci_bus_id", "?"), gpu.get("device_id", "?")))
    raise AnsibleFilterError("expected an architecture name or a GPU dict, got %r" % (gpu,))


def _architectures(gpus):
    """Unique, known architectures, oldest first."""
    if gpus is None:
        return []
    items = [gpus] if isinstance(gpus, (str, dict)) else list(gpus)
    found = set()
    for item in items:
        arch = _architecture_of(item)
        if arch not in gpu_arch.ARCHITECTURES:
            raise AnsibleFilterError(
                "unknown GPU architecture %r (known: %s)" % (arch, ", ".join(gpu_arch.ARCHITECTURE_ORDER)))
        found.add(arch)
    return [arch for arch in gpu_arch.ARCHITECTURE_ORDER if arch in found]


def _branch(branch):
    try:
        return gpu_arch.branch_number(branch)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def driver_branch_supported(gpus, branch):
    """True when driver ``branch`` supports every GPU given."""
    number = _branch(branch)
    return all(gpu_arch.branch_supports(arch, number) for arch in _architectures(gpus))


def driver_branch_for(gpus, branch=None):
    """The driver branch (int) to install for these GPUs.

    With ``branch`` given, return it if it supports every GPU, else fail with a
    message saying which branch does.  Without, return the newest recommended
    branch (``gpu_arch.RECOMMENDED_BRANCH``) that supports all of them.
    """
    archs = _architectures(gpus)
    if branch not in (None, ""):
        number = _branch(branch)
        unsupported = [arch for arch in archs if not gpu_arch.branch_supports(arch, number)]
        if unsupported:
            raise AnsibleFilterError(driver_support_message(gpus, number))
        return number
    if not archs:
        raise AnsibleFilterError("driver_branch_for: no GPU given; set driver_branch explicitly")
    candidates = sorted(set(gpu_arch.RECOMMENDED_BRANCH[arch] for arch in archs), reverse=True)
    for candidate in candidates:
        if all(gpu_arch.branch_supports(arch, candidate) for arch in archs):
            return candidate
    raise AnsibleFilterError(
        "no single driver branch supports all GPUs of this host: %s"
        % "; ".join(gpu_arch.describe_support(arch) for arch in archs))


def driver_support_message(gpus, branch=None):
    """A human sentence on what the GPUs need; names the failing branch when one is given."""
    archs = _architectures(gpus)
    if not archs:
        return "no NVIDIA GPU found"
    needs = "; ".join(gpu_arch.describe_support(arch) for arch in archs)
    if branch in (None, ""):
        return needs
    number = _branch(branch)
    unsupported = [arch for arch in archs if not gpu_arch.branch_supports(arch, number)]
    if not unsupported:
        return "driver branch %d supports the %s GPUs of this host" % (number, ", ".join(archs))
    try:
        suggestion = "use driver branch %d" % driver_branch_for(archs)
    except AnsibleFilterError:
        suggestion = "no single branch supports all of them"
    return "driver branch %d does not support the %s GPUs of this host: %s; %s" % (
        number, ", ".join(unsupported), needs, suggestion)


def driver_kernel_module(gpus, requested="auto"):
    """Return ``open`` or ``proprietary`` for these GPUs.

    ``auto``: open kernel modules when every GPU is Turing or newer (the only
    choice for Blackwell), proprietary when any GPU predates Turing.  An
    explicit ``open`` for a pre-Turing GPU, or ``proprietary`` for a GPU that
    requires the open modules, fails.
    """
    requested = "auto" if requested in (None, "") else str(requested)
    if requested not in KERNEL_MODULES:
        raise AnsibleFilterError(
            "driver_kernel_module: %r is not one of %s" % (requested, ", ".join(KERNEL_MODULES)))
    archs = _architectures(gpus)
    closed_only = [a for a in archs if gpu_arch.ARCHITECTURES[a]["open_kernel"] == "no"]
    open_only = [a for a in archs if gpu_arch.ARCHITECTURES[a]["open_kernel"] == "required"]
    if closed_only and open_only:
        raise AnsibleFilterError(
            "no kernel module type drives both %s (proprietary only) and %s (open only) GPUs"
            % (", ".join(closed_only), ", ".join(open_only)))
    if requested == "open" and closed_only:
        raise AnsibleFilterError(
            "the open kernel modules do not support %s GPUs (open modules start with Turing); "
            "use driver_kernel_module: proprietary" % ", ".join(closed_only))
    if requested == "proprietary" and open_only:
        raise AnsibleFilterError(
            "%s GPUs require the open kernel modules; use driver_kernel_module: open or auto"
            % ", ".join(open_only))
    if requested != "auto":
        return requested
    if closed_only or not archs:
        return "proprietary" if closed_only else "open"
    return "open"


def driver_kernel_module_problem(gpus, requested="auto"):
    """Empty when ``driver_kernel_module`` accepts the request, else its error message."""
    try:
        driver_kernel_module(gpus, requested)
    except AnsibleFilterError as exc:
        return getattr(exc, "message", None) or str(exc)
    return ""


def _cuda_tuple(version):
    text = str(version).strip()
    parts = text.split(".")
    try:
        return tuple(int(part) for part in parts[:2]) + ((0,) if len(parts) == 1 else ())
    except ValueError:
        raise AnsibleFilterError("CUDA version %r is not a version such as 12.9 or 13.0" % (version,))


def _cuda_too_new(archs, version):
    wanted = _cuda_tuple(version)
    return [arch for arch in archs
            if gpu_arch.ARCHITECTURES[arch]["max_cuda"] is not None
            and wanted > _cuda_tuple(gpu_arch.ARCHITECTURES[arch]["max_cuda"])]


def driver_cuda_supported(gpus, cuda_version):
    """True when CUDA ``cuda_version`` still builds for every GPU given."""
    return not _cuda_too_new(_architectures(gpus), cuda_version)


def driver_cuda_support_message(gpus, cuda_version):
    """Sentence on whether CUDA ``cuda_version`` supports the GPUs, naming the newest that does."""
    archs = _architectures(gpus)
    too_new = _cuda_too_new(archs, cuda_version)
    if not too_new:
        return "CUDA %s supports the %s GPUs of this host" % (cuda_version, ", ".join(archs) or "(no)")
    limits = ", ".join("%s up to CUDA %s" % (arch, gpu_arch.ARCHITECTURES[arch]["max_cuda"]) for arch in too_new)
    newest = min((gpu_arch.ARCHITECTURES[arch]["max_cuda"] for arch in too_new), key=_cuda_tuple)
    return ("CUDA %s does not support the %s GPUs of this host (%s); use CUDA %s or older"
            % (cuda_version, ", ".join(too_new), limits, newest))


def _text(value):
    return "" if value is None else str(value).strip()


def driver_branch_value(branch):
    """The branch (int) of ``driver_branch``, None when empty; a version or anything else fails.

    ``580`` and ``"580"`` are branches; ``"580.95.05"`` is an exact version and
    belongs in ``driver_version``.
    """
    problem = _branch_problem(branch)
    if problem:
        raise AnsibleFilterError(problem)
    text = _text(branch)
    return int(text) if text else None


def _branch_problem(branch):
    if isinstance(branch, bool):
        return "driver_branch: %r is not a driver branch such as \"580\"" % (branch,)
    text = _text(branch)
    if not text or _BRANCH.match(text):
        return ""
    if _VERSION.match(text):
        return ("driver_branch: %r is an exact driver version, not a branch; set driver_version: \"%s\" "
                "to install and hold exactly that version (or driver_branch: \"%s\" for the newest of the branch)"
                % (text, text, _VERSION.match(text).group(1)))
    return "driver_branch: %r is not a driver branch such as \"580\" (the major version, three digits)" % (text,)


def _version_problem(version):
    if isinstance(version, (bool, int, float)):
        return ("driver_version: %r is not an exact driver version such as \"580.95.05\" (quote it; "
                "for a whole branch set driver_branch)" % (version,))
    text = _text(version)
    if not text or _VERSION.match(text):
        return ""
    if _BRANCH.match(text):
        return ("driver_version: %r is a branch, not an exact version; set driver_branch: \"%s\", or "
                "driver_version to a full version such as \"%s.95.05\"" % (text, text, text))
    return "driver_version: %r is not an exact driver version such as \"580.95.05\"" % (text,)


def driver_version_value(version):
    """``{"version": "580.95.05", "branch": 580}`` for ``driver_version``; empty version when unset."""
    problem = _version_problem(version)
    if problem:
        raise AnsibleFilterError(problem)
    text = _text(version)
    if not text:
        return {"version": "", "branch": None}
    return {"version": text, "branch": int(_VERSION.match(text).group(1))}


def driver_runfile_version(url):
    """The driver version an installer's file name carries (``NVIDIA-Linux-x86_64-580.95.05.run``), or ''."""
    path = _text(url).split("?", 1)[0].split("#", 1)[0]
    match = _RUNFILE_VERSION.search(path)
    return match.group(1) if match else ""


def _checksum_problem(checksum):
    text = _text(checksum)
    if ":" not in text:
        return ("driver_runfile_checksum: %r is not \"<algorithm>:<hex digest>\"; use sha256:<64 hex digits> "
                "(or sha384/sha512)" % (text,))
    algorithm, digest = text.split(":", 1)
    algorithm = algorithm.strip().lower()
    if algorithm not in STRONG_CHECKSUMS:
        return ("driver_runfile_checksum: algorithm %r is not accepted; use sha256, sha384 or sha512 "
                "(md5 and sha1 do not protect the installer)" % (algorithm,))
    digest = digest.strip()
    if not re.match(r"^[0-9A-Fa-f]{%d}$" % STRONG_CHECKSUMS[algorithm], digest):
        return ("driver_runfile_checksum: the %s digest must be %d hexadecimal digits, got %r"
                % (algorithm, STRONG_CHECKSUMS[algorithm], digest))
    return ""


def driver_options_problems(options):
    """Problems with the driver role's variables that need no facts (each names its variable).

    ``options``: the role's variables (``driver_branch``, ``driver_version``,
    ``driver_source``, ``driver_runfile_url``, ``driver_runfile_checksum``,
    ``driver_cuda_toolkit``, ``driver_cuda_toolkit_version``).
    """
    if not isinstance(options, dict):
        raise AnsibleFilterError("driver_options_problems: expected a dict of the driver_* variables")
    problems = []
    branch_problem = _branch_problem(options.get("driver_branch"))
    version_problem = _version_problem(options.get("driver_version"))
    problems.extend(p for p in (branch_problem, version_problem) if p)
    source = _text(options.get("driver_source")) or "cuda_repo"
    if source not in SOURCES:
        problems.append("driver_source: %r is not one of %s" % (source, ", ".join(SOURCES)))
    if not branch_problem and not version_problem:
        branch = _text(options.get("driver_branch"))
        version = _text(options.get("driver_version"))
        if branch and version and int(branch) != driver_version_value(version)["branch"]:
            problems.append("driver_branch %s and driver_version %s disagree: version %s is of branch %s; "
                            "set one of them" % (branch, version, version, version.split(".", 1)[0]))
    if source == "runfile":
        url = _text(options.get("driver_runfile_url"))
        checksum = _text(options.get("driver_runfile_checksum"))
        if not url:
            problems.append("driver_runfile_url: driver_source runfile needs the installer's URL "
                            "(NVIDIA-Linux-<arch>-<version>.run, e.g. on an internal mirror)")
        if not checksum:
            problems.append("driver_runfile_checksum: driver_source runfile needs the installer's checksum "
                            "(sha256:<64 hex digits>)")
        else:
            problem = _checksum_problem(checksum)
            if problem:
                problems.append(problem)
        version = _text(options.get("driver_version"))
        if url and version and not version_problem:
            found = driver_runfile_version(url)
            if found != version:
                problems.append("driver_runfile_url: %r is %s, not driver_version %s; point it at the .run "
                                "of that version" % (url, ("version " + found) if found else "of no version "
                                                     "its name shows (NVIDIA-Linux-<arch>-<version>.run)", version))
    cuda = _text(options.get("driver_cuda_toolkit_version"))
    if cuda and not re.match(r"^[0-9]{1,2}(\.[0-9]{1,2})?$", cuda):
        problems.append("driver_cuda_toolkit_version: %r is not a CUDA version such as \"12.9\"" % (cuda,))
    return problems


def driver_request(gpus, options, distro_branch=None, distribution=""):
    """What the driver role installs on this host, and every reason to refuse it up front.

    ``gpus``: ``ansible_facts.nvidia.gpus`` (may be empty: no facts, or a
    forced host).  ``options``: the ``driver_*`` variables, as for
    ``driver_options_problems``.  ``distro_branch``: the branch the
    distribution ships (``None`` where it has no driver).  Returns
    ``{"branch": int or None, "version": str, "kernel_module": "open" or
    "proprietary", "problems": [str]}``; nothing may change while
    ``problems`` is not empty.
    """
    problems = driver_options_problems(options)
    gpus = gpus or []
    source = _text(options.get("driver_source")) or "cuda_repo"
    distribution = _text(distribution)
    result = {"branch": None, "version": "", "kernel_module": None, "problems": problems}
    if problems:
        return result
    version = driver_version_value(options.get("driver_version"))
    branch = driver_branch_value(options.get("driver_branch")) or version["branch"]
    distro = int(distro_branch) if _text(distro_branch) else None
    if source == "distro":
        if distro is None:
            problems.append("driver_source: distro is not available on %s: it has no distribution driver; "
                            "use cuda_repo or runfile" % (distribution or "this OS"))
        elif branch is not None and distribution.split(" ", 1)[0] != "Ubuntu" and branch != distro:
            what = ("driver_version %s" % version["version"]) if version["version"] else ("branch %d" % branch)
            problems.append("driver_source: distro on %s installs branch %d only, not %s; use driver_source: "
                            "cuda_repo for another branch" % (distribution or "this OS", distro, what))
        if branch is None:
            branch = distro
    if gpus and branch is not None:
        try:
            supported = driver_branch_supported(gpus, branch)
        except AnsibleFilterError as exc:
            supported = None
            problems.append(str(getattr(exc, "message", exc)))
        if supported is False:
            message = driver_support_message(gpus, branch)
            if version["version"]:
                message = "driver_version %s: %s" % (version["version"], message)
            problems.append(message)
    elif gpus:
        try:
            branch = driver_branch_for(gpus)
        except AnsibleFilterError as exc:
            problems.append(str(getattr(exc, "message", exc)))
    requested_module = _text(options.get("driver_kernel_module")) or "auto"
    if not gpus and requested_module == "auto":
        # Without GPU facts 'auto' is the source's default: NVIDIA's (open
        # since 560) for cuda_repo/runfile, the distribution's for distro.
        kernel_module = "proprietary" if source == "distro" else "open"
    else:
        problem = driver_kernel_module_problem(gpus, requested_module)
        kernel_module = None if problem else driver_kernel_module(gpus, requested_module)
        if problem:
            problems.append(problem)
    cuda = _text(options.get("driver_cuda_toolkit_version"))
    if options.get("driver_cuda_toolkit") in (True, "true", "True", "yes", 1) and cuda and gpus:
        if not driver_cuda_supported(gpus, cuda):
            problems.append(driver_cuda_support_message(gpus, cuda))
    result.update(branch=branch, version=version["version"], kernel_module=kernel_module)
    return result


def driver_cuda_repo_packages(request, family="apt"):
    """The packages of NVIDIA's CUDA repository for a ``driver_request`` result.

    APT: ``nvidia-open[-<branch>]`` (open) or ``cuda-drivers[-<branch>]``; an
    exact version is held by the APT preferences pin (``driver_apt_pin``).
    DNF: the ``nvidia-driver`` module stream (``<branch>-open``,
    ``<branch>-dkms``, ``open-dkms``, ``latest-dkms``), and with an exact
    version the stream's packages at that version.
    """
    branch = request.get("branch")
    version = _text(request.get("version"))
    is_open = request.get("kernel_module") == "open"
    suffix = ("-%s" % branch) if branch else ""
    if family == "apt":
        return [("nvidia-open" if is_open else "cuda-drivers") + suffix]
    if family != "dnf":
        raise AnsibleFilterError("driver_cuda_repo_packages: family %r is not apt or dnf" % (family,))
    if branch:
        stream = "%s-%s" % (branch, "open" if is_open else "dkms")
    else:
        stream = "open-dkms" if is_open else "latest-dkms"
    packages = ["@nvidia-driver:" + stream]
    if version:
        kmod = "kmod-nvidia-open-dkms" if is_open else "kmod-nvidia-latest-dkms"
        packages += ["nvidia-driver-" + version, "nvidia-driver-cuda-" + version, "%s-%s" % (kmod, version)]
    return packages


def driver_apt_pin(version):
    """APT preferences that hold the driver's packages at ``version`` (every source, any suffix)."""
    version = driver_version_value(version)["version"]
    if not version:
        raise AnsibleFilterError("driver_apt_pin: no driver_version given")
    return ("Package: *nvidia* cuda-drivers* libcuda* libnvcuvid* libnvoptix* xserver-xorg-video-nvidia*\n"
            "Pin: version %s-*\n"
            "Pin-Priority: 1001\n" % version)


class FilterModule(object):
    """Driver branch filters."""

    def filters(self):
        return {
            "driver_branch_for": driver_branch_for,
            "driver_branch_supported": driver_branch_supported,
            "driver_support_message": driver_support_message,
            "driver_kernel_module": driver_kernel_module,
            "driver_kernel_module_problem": driver_kernel_module_problem,
            "driver_cuda_supported": driver_cuda_supported,
            "driver_cuda_support_message": driver_cuda_support_message,
            "driver_options_problems": driver_options_problems,
            "driver_request": driver_request,
            "driver_cuda_repo_packages": driver_cuda_repo_packages,
            "driver_apt_pin": driver_apt_pin,
            "driver_runfile_version": driver_runfile_version,
        }
