"""Assert that a Molecule step reported changed=0 for every host.

Molecule's idempotence step proves the SECOND converge changes nothing; for
scenarios whose FIRST converge must change nothing either (a host without a
GPU), run.sh calls this on the scenario's log:

    check_recap.py build/molecule/logs/nogpu.log nogpu converge
"""
import re
import sys

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def recap_lines(text, scenario, step):
    start = re.search(r"\[%s > %s\] Executing" % (re.escape(scenario), re.escape(step)), text)
    if not start:
        raise SystemExit("no '%s > %s' step in the log" % (scenario, step))
    end = re.search(r"\[%s > %s\] Executed" % (re.escape(scenario), re.escape(step)), text[start.end():])
    block = text[start.end(): start.end() + end.start()] if end else text[start.end():]
    return [RECAP.match(line) for line in block.splitlines() if RECAP.match(line)]


def main(argv):
    log, scenario, step = argv[1:4]
    with open(log) as handle:
        lines = recap_lines(handle.read(), scenario, step)
    if not lines:
        print("no PLAY RECAP found for %s > %s" % (scenario, step))
        return 1
    bad = [m.group(0) for m in lines if int(m.group(3)) != 0 or int(m.group(5)) != 0]
    for m in lines:
        print("%s > %s: %s changed=%s failed=%s" % (scenario, step, m.group(1), m.group(3), m.group(5)))
    if bad:
        print("expected changed=0 on the first %s:\n  %s" % (step, "\n  ".join(bad)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
