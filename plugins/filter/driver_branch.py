# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that choose and check an NVIDIA driver branch for a host's GPUs.

All knowledge about architectures comes from
``plugins/module_utils/gpu_arch.py``; these filters only combine it for the
GPUs of one host.  Every filter accepts the GPUs as an architecture name, a
list of architecture names, or the ``gpus`` list of ``ansible_facts.nvidia``
(each GPU's ``architecture``, else its ``compute_capability``, else its
``device_id`` is used).

Documentation of each filter is in the YAML file of the same name next to
this one (``driver_branch_for.yml`` ...), which ``ansible-doc -t filter`` reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.module_utils import gpu_arch

KERNEL_FLAVOURS = ("auto", "open", "proprietary")


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


def driver_kernel_flavour(gpus, requested="auto"):
    """Return ``open`` or ``proprietary`` for these GPUs.

    ``auto``: open kernel modules when every GPU is Turing or newer (the only
    choice for Blackwell), proprietary when any GPU predates Turing.  An
    explicit ``open`` for a pre-Turing GPU, or ``proprietary`` for a GPU that
    requires the open modules, fails.
    """
    requested = "auto" if requested in (None, "") else str(requested)
    if requested not in KERNEL_FLAVOURS:
        raise AnsibleFilterError(
            "driver_kernel_flavour: %r is not one of %s" % (requested, ", ".join(KERNEL_FLAVOURS)))
    archs = _architectures(gpus)
    closed_only = [a for a in archs if gpu_arch.ARCHITECTURES[a]["open_kernel"] == "no"]
    open_only = [a for a in archs if gpu_arch.ARCHITECTURES[a]["open_kernel"] == "required"]
    if closed_only and open_only:
        raise AnsibleFilterError(
            "no kernel module flavour drives both %s (proprietary only) and %s (open only) GPUs"
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


def driver_kernel_flavour_problem(gpus, requested="auto"):
    """Empty when ``driver_kernel_flavour`` accepts the request, else its error message."""
    try:
        driver_kernel_flavour(gpus, requested)
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


class FilterModule(object):
    """Driver branch filters."""

    def filters(self):
        return {
            "driver_branch_for": driver_branch_for,
            "driver_branch_supported": driver_branch_supported,
            "driver_support_message": driver_support_message,
            "driver_kernel_flavour": driver_kernel_flavour,
            "driver_kernel_flavour_problem": driver_kernel_flavour_problem,
            "driver_cuda_supported": driver_cuda_supported,
            "driver_cuda_support_message": driver_cuda_support_message,
        }
