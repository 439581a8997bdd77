# -*- coding: utf-8 -*-
"""Benchmark nvidia_gpu_facts: time in nvidia-smi versus everything else.

    python3 tests/perf/bench_facts.py                 # fake H100 host (fixtures), 20 runs
    python3 tests/perf/bench_facts.py --real          # this host (/), e.g. a GPU machine
    python3 tests/perf/bench_facts.py --real --ansible 3   # also `ansible localhost -m ...` end to end

Each run starts the module in a fresh Python process (as Ansible does) and
reads the module's own ``elapsed_ms`` (total gather time, and the time spent
in each command).  Reported: median and max over the runs of

* ``total``: the module's gather time, commands included;
* ``nvidia_smi``: the nvidia-smi call;
* ``lspci``, ``other_commands``: the other commands (if any ran);
* ``own``: total minus all commands, i.e. the module's reading and parsing;
* ``process``: the whole Python process (interpreter start, ansible imports, module).

The target is ``own`` under 50 ms on a GPU host.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "modules"))
sys.path.insert(0, os.path.join(REPO, "tests"))     # first: tests/conftest.py, not the modules' one

import conftest  # noqa: E402  (makes ansible_collections.gpufleet.nvidia importable)
import fakehost  # noqa: E402

RUNNER = ("import sys; sys.path.insert(0, %r); "
          "from ansible_collections.gpufleet.nvidia.plugins.modules import nvidia_gpu_facts as m; m.main()")
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _nvidia_smi as nvidia_smi  # noqa: E402

# The fields the module asks a 580 driver for (the fake nvidia-smi answers exactly those).
FIELDS = nvidia_smi.fields_for_driver("580.159.04")


def run_module(args, workdir):
    path = os.path.join(workdir, "args.json")
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", RUNNER % conftest.COLLECTIONS_ROOT, path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    process_ms = (time.time() - started) * 1000.0
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        sys.exit("module printed no JSON (rc=%s):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    if result.get("failed"):
        sys.exit("module failed: %s" % result.get("msg"))
    return result, process_ms


def stats(name, values):
    return "%-15s median %8.2f ms   max %8.2f ms" % (name, statistics.median(values), max(values))


def bench(args, runs, workdir):
    columns = {"total": [], "nvidia_smi": [], "lspci": [], "other_commands": [], "own": [], "process": []}
    result = None
    for _run in range(runs):
        result, process_ms = run_module(args, workdir)
        elapsed = result["elapsed_ms"]
        for key in ("total", "nvidia_smi", "lspci", "other_commands"):
            columns[key].append(elapsed.get(key, 0.0))
        columns["own"].append(elapsed["total"] - elapsed["nvidia_smi"] - elapsed["lspci"] - elapsed["other_commands"])
        columns["process"].append(process_ms)
    return columns, result


def report(title, columns, result, runs):
    print("== %s (%d runs)" % (title, runs))
    print("msg: %s" % result["msg"])
    print("commands: %s" % json.dumps(result["commands"]))
    for key in ("total", "nvidia_smi", "lspci", "other_commands", "own", "process"):
        if any(columns[key]):
            print(stats(key, columns[key]))
    slow = sum(1 for value in columns["total"] if value > 500)
    print("runs over 500 ms: %d of %d" % (slow, runs))
    own = statistics.median(columns["own"])
    print("own time (everything but commands): %.2f ms median -> %s the 50 ms target"
          % (own, "within" if own < 50 else "OVER"))


def fixture_host(workdir):
    root = os.path.join(workdir, "root")
    fakehost.h100_root(root)
    smi = fakehost.fake_command(os.path.join(workdir, "bin"), "nvidia-smi", [],
                                (fakehost.h100_nvidia_smi_answer(FIELDS), 0))
    lspci = fakehost.fake_command(os.path.join(workdir, "bin"), "lspci", [], (fakehost.H100_LSPCI_VMM, 0))
    return {"root": root, "nvidia_smi_path": smi, "lspci_path": lspci}


def ansible_end_to_end(count):
    ansible = shutil.which("ansible") or os.path.join(os.path.dirname(sys.executable), "ansible")
    times = []
    for _run in range(count):
        started = time.time()
        proc = subprocess.run([ansible, "localhost", "-c", "local", "-m", "gpufleet.nvidia.nvidia_gpu_facts"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        times.append((time.time() - started) * 1000.0)
        if proc.returncode != 0:
            print(proc.stdout)
            sys.exit("ansible failed (rc=%d)" % proc.returncode)
    print("== ansible localhost -c local -m gpufleet.nvidia.nvidia_gpu_facts (%d runs)" % count)
    print(stats("end to end", times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--real", action="store_true", help="gather facts of this host (root /)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="module timeout option (0: run commands without the coreutils timeout wrapper)")
    parser.add_argument("--ansible", type=int, default=0, metavar="N",
                        help="also time N runs of the ad-hoc ansible command (collection must be installed)")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench_facts.")
    extra = {} if options.timeout is None else {"timeout": options.timeout}
    try:
        if options.real:
            columns, result = bench(extra, options.runs, workdir)
            report("this host", columns, result, options.runs)
        else:
            args = fixture_host(workdir)
            args.update(extra)
            columns, result = bench(args, options.runs, workdir)
            report("fake H100 host (fixtures, fake nvidia-smi and lspci)", columns, result, options.runs)
        if options.ansible:
            ansible_end_to_end(options.ansible)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
