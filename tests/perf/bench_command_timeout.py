# -*- coding: utf-8 -*-
"""How should nvidia_gpu_facts enforce its ``timeout``?  Time AnsibleModule.run_command variants.

    python3 tests/perf/bench_command_timeout.py [COMMAND ...]   # default: nvidia-smi --query-gpu=index ...

Variants, each run RUNS times in one process:
  plain        run_command(cmd)                                   (no timeout at all)
  wrapper      run_command(["timeout", "-k", "2", "10"] + cmd)    (coreutils timeout)
  foreground   run_command(["timeout", "--foreground", "-k", "2", "10"] + cmd)
  timer        run_command(cmd, before_communicate_callback=<start a threading.Timer that kills it>)
Prints median, max and how many runs took over 500 ms.
"""
import json
import os
import shutil
import statistics
import sys
import threading
import time

from ansible.module_utils import basic

RUNS = int(os.environ.get("RUNS", "40"))


def module():
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": {}}).encode()  # pylint: disable=protected-access
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:
        return basic.AnsibleModule(argument_spec={})
    with patch_module_args({}):
        return basic.AnsibleModule(argument_spec={})


def main():
    cmd = sys.argv[1:] or [shutil.which("nvidia-smi") or "/usr/local/nvidia/bin/nvidia-smi",
                           "--query-gpu=index,pci.bus_id,name", "--format=csv,noheader,nounits"]
    tmo = shutil.which("timeout")
    mod = module()

    def timer_callback(process):
        timer = threading.Timer(10, process.kill)
        timer.daemon = True
        timer.start()
        timers.append(timer)

    timers = []
    variants = [("plain", cmd, None), ("wrapper", [tmo, "-k", "2", "10"] + cmd, None),
                ("foreground", [tmo, "--foreground", "-k", "2", "10"] + cmd, None),
                ("timer", cmd, timer_callback)]
    for name, argv, callback in variants:
        times = []
        for _run in range(RUNS):
            started = time.time()
            rc, _out, _err = mod.run_command(argv, before_communicate_callback=callback)
            times.append((time.time() - started) * 1000.0)
            for timer in timers:
                timer.cancel()
            del timers[:]
            if rc != 0:
                sys.exit("%s: rc=%s %s" % (name, rc, _err))
        print("%-11s median %7.2f ms  max %8.2f ms  over 500 ms: %d of %d"
              % (name, statistics.median(times), max(times), sum(1 for t in times if t > 500), RUNS))


if __name__ == "__main__":
    main()
