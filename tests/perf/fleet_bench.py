"""Fleet benchmark: playbooks/site.yml across N systemd instances at once.

For each fleet size N (default 20 full instances, then 100 light ones) it
starts N instances of the Docker host image used by Molecule
(local/gpufleet-docker:bookworm, systemd as PID 1), converges them with
site.yml as gpu_docker_hosts with the container toolkit from the TEST FIXTURE
repository (stand-in packages, not NVIDIA software) using forks=N, and reports:

  * first run   wall time of the converging run (from --clone-from on, default 50 hosts:
                of the one seed instance whose committed image the N instances start from)
  * no-op run   wall time of a re-run (median of three; each must report changed=0 for every host)
  * ping        wall time of `ansible -m ping` over the same instances (median of three)
  * ratio       no-op run / ping (target: at most 3 on 20 hosts, not growing with the fleet)
  * memory      what one instance costs: the summed RSS of its processes (docker top),
                and the host's MemAvailable drop per instance

Instance kinds (per size: --sizes 20,100 takes `full` below --light-from,
`light` from it; `N:full` / `N:light` choose one size's kind, --light all):

  full    the image as Molecule boots it: systemd, dockerd and containerd running
  light   the same image with docker.service, docker.socket and containerd.service
          masked before boot, so only systemd, journald and dbus run. Docker's
          packages and files are there: the facts report Docker installed, the
          role writes daemon.json and re-runs with changed=0 as on a full host;
          the only difference is that no running dockerd is told (daemon.json
          is read when it starts). What a re-run does on the host is the same.

Large fleets (--clone-from, default 50): N first runs at once do not finish on a
small machine (100 converging instances on two cores had converged none after
14 minutes), so one seed instance is converged and committed as an image
(docker commit), and the N instances start from it. The first run's figure is
then the seed's. Every no-op run still has to report changed=0 on every clone,
which is the check that each one starts converged.

--compare BEFORE_TREE measures two trees of the collection on the same
instances in the same minutes: BEFORE_TREE (a git worktree of an older commit,
e.g. `git worktree add /tmp/fleet-before a99bf00`) and the working tree (or
--after TREE). Each tree is built and installed into a collections path of its
own (build/perf/collections-before, -after) and run with its own
playbooks/site.yml. The instances are converged once with the after tree;
then three rounds of: ping, no-op run with the before tree, no-op run with
the after tree (before, after, before, after, before, after). Each no-op run
must show changed=0 for every host with both collections: a collection that
changes hosts converged by the other is reported by name.

A script, not a timed test: it is not run in CI. Needs a running Docker
engine (tests/molecule/run.sh starts one); without --compare, the collection
installed in .collections (make install). Usage:

  .venv/bin/python tests/perf/fleet_bench.py [--sizes 20,100] [--light] [--compare TREE] [--json OUT]
"""
import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, ".venv", "bin")
SITE_PACKAGES = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages")
SYSTEMD_FLAGS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined", "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
]
# Docker's data directories as volumes, as Molecule gives them (overlay on overlay does not work)
DOCKER_VOLUMES = ["-v", "/var/lib/docker", "-v", "/var/lib/containerd"]
LIGHT_MASKED = ("docker.service", "docker.socket", "containerd.service")
# inotify instances one systemd instance holds (5 light, 6 full, measured) with some room,
# and room for what starts elsewhere on the machine meanwhile
INOTIFY_PER_INSTANCE = 8
INOTIFY_HEADROOM = 64
PREFIX = "gpufleet-bench"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw).stdout


def log(msg):
    print("[fleet_bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def ensure_engine(logs):
    """A Docker engine: the one that answers, or dockerd started here as tests/molecule/run.sh
    does (no systemd on the machine); the process to stop at the end, or None."""
    if subprocess.run(["docker", "info"], check=False, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        return None
    log("no Docker engine answers: starting dockerd (log: %s/dockerd.log)" % logs)
    with open(os.path.join(logs, "dockerd.log"), "w") as handle:
        proc = subprocess.Popen(["dockerd"], stdout=handle, stderr=subprocess.STDOUT)
    for attempt in range(60):
        if subprocess.run(["docker", "info"], check=False, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            return proc
        time.sleep(1)
    proc.terminate()
    raise SystemExit("dockerd did not come up: see %s/dockerd.log" % logs)


def stop_engine(proc):
    if proc is not None:
        log("stopping the dockerd this run started (pid %d)" % proc.pid)
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def parse_sizes(spec, light_from, all_light):
    """'20,100' -> [(20, 'full'), (100, 'light')]; 'N:full' / 'N:light' choose one size's kind."""
    sizes = []
    for item in spec.split(","):
        count, sep, kind = item.strip().partition(":")
        count = int(count)
        if not sep:
            kind = "light" if all_light or count >= light_from else "full"
        if kind not in ("full", "light"):
            raise SystemExit("--sizes: kind of %r must be full or light" % item)
        sizes.append((count, kind))
    return sizes


def ensure_network(name, subnet):
    """A network of the benchmark's own (see tests/molecule/run.sh): its gateway address,
    and whether this run created it (then it removes it at the end)."""
    created = False
    if subprocess.run(["docker", "network", "inspect", name], check=False,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        gateway = str(next(ipaddress.ip_network(subnet).hosts()))
        sh(["docker", "network", "create", "--driver", "bridge", "--subnet", subnet, "--gateway", gateway,
            "--label", "gpufleet-bench=1", name])
        created = True
    gateway = sh(["docker", "network", "inspect", name, "-f", "{{(index .IPAM.Config 0).Gateway}}"]).strip()
    if not gateway:  # created earlier without --gateway: the bridge has the subnet's first address
        found = sh(["docker", "network", "inspect", name, "-f", "{{(index .IPAM.Config 0).Subnet}}"]).strip()
        gateway = str(next(ipaddress.ip_network(found).hosts()))
    return gateway, created


def inotify_in_use():
    """inotify file descriptors open on the machine (all root's here)."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                count += os.readlink("/proc/%s/fd/%s" % (pid, fd)) == "anon_inode:inotify"
            except OSError:
                pass
    return count


def raise_inotify(count):
    """systemd in every instance holds inotify instances, all of them root's: the kernel's
    default of 128 per user is below what 100 instances need. Raised only when what is in
    use plus what the instances need does not fit; returns the old value to restore."""
    path = "/proc/sys/fs/inotify/max_user_instances"
    with open(path) as handle:
        old = int(handle.read())
    in_use = inotify_in_use()
    wanted = in_use + count * INOTIFY_PER_INSTANCE + INOTIFY_HEADROOM
    if old >= wanted:
        return None
    log("fs.inotify.max_user_instances %d -> %d: %d in use, %d instances (restored at the end)"
        % (old, wanted, in_use, count))
    with open(path, "w") as handle:
        handle.write(str(wanted))
    return old


def restore_inotify(old):
    if old is not None:
        with open("/proc/sys/fs/inotify/max_user_instances", "w") as handle:
            handle.write(str(old))


def mem_available_kib():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def start_instances(count, kind, image, network, names=None):
    names = names or ["%s-%03d" % (PREFIX, i) for i in range(count)]
    if kind == "light":
        mask = " ".join("/etc/systemd/system/" + unit for unit in LIGHT_MASKED)
        boot = ["/bin/sh", "-c", "for u in %s; do ln -sf /dev/null $u; done; exec /lib/systemd/systemd" % mask]
        flags = SYSTEMD_FLAGS
    else:
        boot = ["/lib/systemd/systemd"]
        flags = SYSTEMD_FLAGS + DOCKER_VOLUMES
    try:
        for name in names:
            sh(["docker", "run", "-d", "--name", name, "--hostname", name, "--network", network,
                "--label", "gpufleet-bench=1"] + flags + [image] + boot)
        for name in names:
            wait_booted(name)
    except BaseException:
        remove_instances(names)
        raise
    return names


def wait_booted(name, timeout=300):
    """Until systemd says running or degraded: `is-system-running --wait` returns at once,
    'initializing' or no bus, when it is asked before systemd is up."""
    deadline = time.monotonic() + timeout
    while True:
        state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running", "--wait"], check=False,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
        if state in ("running", "degraded"):
            return state
        if time.monotonic() > deadline:
            raise SystemExit("%s: systemd did not finish booting in %d s (state %r)" % (name, timeout, state))
        time.sleep(0.5)


def remove_instances(names):
    if names:
        subprocess.run(["docker", "rm", "-f", "-v"] + names, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def instance_rss_kib(names):
    """Per instance, the summed resident set of its processes (ps through docker top)."""
    sizes = []
    for name in names:
        lines = sh(["docker", "top", name, "-o", "pid,rss,comm"]).splitlines()[1:]
        sizes.append(sum(int(line.split()[1]) for line in lines if line.split()))
    return sizes


def instance_processes(name):
    return sorted(set(line.split(None, 2)[2] for line in sh(["docker", "top", name, "-o", "pid,rss,comm"]).splitlines()[1:]
                      if len(line.split(None, 2)) == 3))


def write_inventory(path, names, extra_vars):
    with open(path, "w") as handle:
        handle.write("[gpu_docker_hosts]\n")
        for name in names:
            handle.write("%s ansible_connection=community.docker.docker\n" % name)
        handle.write("\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n")
    vars_path = path + ".vars.json"
    with open(vars_path, "w") as handle:
        json.dump(extra_vars, handle)
    return vars_path


def timed(cmd, env):
    start = time.monotonic()
    proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, cwd=ROOT)
    return time.monotonic() - start, proc


def recap(output):
    """{host: {'ok': n, 'changed': n, 'unreachable': n, 'failed': n}} from PLAY RECAP."""
    hosts = {}
    for match in RECAP.finditer(output):
        hosts[match.group(1)] = dict(zip(("ok", "changed", "unreachable", "failed"),
                                         (int(match.group(i)) for i in range(2, 6))))
    return hosts


def run_problems(proc, names):
    """What is wrong with a playbook run: failed rc, hosts missing from the recap,
    unreachable, failed or changed hosts. Empty when the run is a clean no-op."""
    hosts = recap(proc.stdout)
    problems = []
    if proc.returncode:
        problems.append("rc=%d" % proc.returncode)
    missing = [name for name in names if name not in hosts]
    if missing:
        problems.append("%d host(s) not in the recap" % len(missing))
    for key in ("unreachable", "failed", "changed"):
        bad = sorted(name for name, counts in hosts.items() if counts[key])
        if bad:
            problems.append("%s on %d host(s) (%s)" % (key, len(bad), ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")))
    return problems


def changed_total(output):
    return sum(counts["changed"] for counts in recap(output).values())


def bench_vars(fixture_url, fingerprint):
    """The cheapest real class: gpu_docker_hosts, toolkit from the fixture
    repository, no driver (the driver role is the default scenario's job)."""
    return {
        "gpufleet_force_without_gpu": True,
        "gpufleet_install_driver": False,
        "container_toolkit_repo_base_url": fixture_url + "/stable",
        "container_toolkit_repo_key_url": fixture_url + "/gpgkey",
        "container_toolkit_repo_key_fingerprint": fingerprint,
    }


def start_fixture_server(address, port, directory, fingerprint):
    """The fixture repository over HTTP. Fails when the port is taken (a server left by an
    earlier run would hand the hosts its own key) or when the server does not answer with
    this run's key fingerprint."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((address, port))
    except OSError as exc:
        raise SystemExit("%s:%d is taken (%s): another fixture server, e.g. of a stopped run, "
                         "would serve its own key; stop it or pass --port" % (address, port, exc))
    finally:
        probe.close()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", address,
                               "--directory", directory, str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://%s:%d/fingerprint" % (address, port)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                served = answer.read().decode().strip()
            if served == fingerprint:
                return server
            server.terminate()
            raise SystemExit("%s serves fingerprint %s, not this run's %s" % (url, served, fingerprint))
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                raise SystemExit("the fixture server on %s:%d did not come up" % (address, port))
            time.sleep(0.2)


def install_tree(tree, dest, env):
    """Build the collection of a source tree and install it into a collections path of its own."""
    dist = dest + "-dist"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(dist, ignore_errors=True)
    os.makedirs(dist)
    sh([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path", dist, tree],
       env=env, cwd=tree)
    tarball = [name for name in os.listdir(dist) if name.endswith(".tar.gz")][0]
    sh([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", dest,
        os.path.join(dist, tarball)], env=env, cwd=tree)
    return dest


def median(values):
    return statistics.median(values) if values else None


def save_log(directory, name, proc):
    with open(os.path.join(directory, name), "w") as handle:
        handle.write(proc.stdout)


def measure_plain(size, names, play, ping_cmd, env, logs):
    """Three no-op runs, then three ping rounds (the script's original sequence)."""
    noops = [timed(play, env) for run in range(3)]
    pings = [timed(ping_cmd, env) for run in range(3)]
    for index, (seconds, proc) in enumerate(noops):
        save_log(logs, "fleet-%d-noop-%d.log" % (size, index + 1), proc)
    save_log(logs, "fleet-%d-ping.log" % size, pings[-1][1])
    noop = median([item[0] for item in noops])
    ping = median([item[0] for item in pings])
    problems = sorted(set(p for item in noops for p in run_problems(item[1], names)))
    return {
        "noop_runs_s": [round(item[0], 1) for item in noops],
        "ping_runs_s": [round(item[0], 1) for item in pings],
        "noop_run_s": round(noop, 1), "noop_rc": max(item[1].returncode for item in noops),
        "noop_changed": max(changed_total(item[1].stdout) for item in noops),
        "noop_problems": problems,
        "ping_s": round(ping, 1), "ping_rc": max(item[1].returncode for item in pings),
        "noop_over_ping": round(noop / ping, 2) if ping else None,
    }


def measure_compare(size, names, plays, ping_cmd, envs, logs):
    """Three rounds of ping, before, after: both trees' no-op runs in the same minutes."""
    runs = {"before": [], "after": []}
    pings = []
    problems = {"before": [], "after": []}
    for round_no in range(1, 4):
        pings.append(timed(ping_cmd, envs["after"]))
        log("%d hosts, round %d, ping: %.1f s" % (size, round_no, pings[-1][0]))
        for tree in ("before", "after"):
            seconds, proc = timed(plays[tree], envs[tree])
            runs[tree].append((seconds, proc))
            save_log(logs, "fleet-%d-noop-%s-%d.log" % (size, tree, round_no), proc)
            found = run_problems(proc, names)
            note = ("  PROBLEM: " + "; ".join(found)) if found else ""
            log("%d hosts, round %d, no-op %s: %.1f s%s" % (size, round_no, tree, seconds, note))
            problems[tree].extend("round %d: %s" % (round_no, p) for p in found)
    save_log(logs, "fleet-%d-ping.log" % size, pings[-1][1])
    ping = median([item[0] for item in pings])
    row = {"ping_runs_s": [round(item[0], 1) for item in pings], "ping_s": round(ping, 1),
           "ping_rc": max(item[1].returncode for item in pings)}
    for tree in ("before", "after"):
        noop = median([item[0] for item in runs[tree]])
        row.update({
            "noop_%s_runs_s" % tree: [round(item[0], 1) for item in runs[tree]],
            "noop_%s_s" % tree: round(noop, 1),
            "noop_%s_over_ping" % tree: round(noop / ping, 2) if ping else None,
            "noop_%s_problems" % tree: problems[tree],
        })
    row["after_over_before"] = round(row["noop_after_s"] / row["noop_before_s"], 2) if row["noop_before_s"] else None
    return row


def print_table(results, compare):
    if compare:
        head = ("hosts", "kind", "first run s", "ping s", "before s", "after s", "before/ping", "after/ping", "after/before")
        print("\n%-6s %-6s %12s %8s %9s %9s %12s %11s %13s" % head)
        for row in results:
            print("%-6d %-6s %12.1f %8.1f %9.1f %9.1f %12.2f %11.2f %13.2f" % (
                row["hosts"], row["kind"], row["first_run_s"], row["ping_s"], row["noop_before_s"],
                row["noop_after_s"], row["noop_before_over_ping"] or 0, row["noop_after_over_ping"] or 0,
                row["after_over_before"] or 0))
    else:
        print("\n%-6s %-6s %12s %12s %8s %14s" % ("hosts", "kind", "first run s", "no-op run s", "ping s", "no-op / ping"))
        for row in results:
            print("%-6d %-6s %12.1f %12.1f %8.1f %14.2f" % (
                row["hosts"], row["kind"], row["first_run_s"], row["noop_run_s"], row["ping_s"],
                row["noop_over_ping"] or 0))
    print("\n%-6s %-6s %10s %22s %24s %20s" % ("hosts", "kind", "start s", "RSS / instance MiB", "host memory / inst. MiB",
                                               "remove s"))
    for row in results:
        print("%-6d %-6s %10.1f %22s %24s %20.1f" % (
            row["hosts"], row["kind"], row["start_s"],
            "%.1f (%.1f-%.1f)" % (row["rss_median_mib"], row["rss_min_mib"], row["rss_max_mib"]),
            "%.1f" % row["host_mem_per_instance_mib"], row["remove_s"]))


def row_failed(row, compare):
    if row["first_run_rc"] or row["ping_rc"]:
        return True
    if compare:
        return bool(row["noop_before_problems"] or row["noop_after_problems"])
    return bool(row["noop_problems"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,100",
                        help="fleet sizes, N or N:full or N:light (default 20,100: 20 full, 100 light)")
    parser.add_argument("--light", action="store_true", help="light instances for every size")
    parser.add_argument("--light-from", type=int, default=50,
                        help="sizes from this one on get light instances (default 50)")
    parser.add_argument("--compare", metavar="BEFORE_TREE",
                        help="source tree of the collection to compare with (e.g. a git worktree of an older commit)")
    parser.add_argument("--after", metavar="TREE", default=ROOT,
                        help="with --compare: the tree measured as 'after' (default: this working tree)")
    parser.add_argument("--image", default=os.environ.get("GPUFLEET_IMAGE_DOCKER_BOOKWORM",
                                                          "local/gpufleet-docker:bookworm"))
    parser.add_argument("--playbook", default=os.path.join(ROOT, "playbooks", "site.yml"),
                        help="without --compare: the playbook run (with --compare each tree's playbooks/site.yml)")
    parser.add_argument("--clone-from", type=int, default=50,
                        help="sizes from this one on start from an image of one converged instance (docker commit) "
                             "instead of N first runs at once; the no-op runs check every clone (default 50)")
    parser.add_argument("--hold", action="store_true",
                        help="after the first run of the first size, keep the instances up and print the commands "
                             "to run by hand (profiling) until interrupted; measures nothing")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--network", default="gpufleet-bench")
    parser.add_argument("--subnet", default="172.31.251.0/24")
    parser.add_argument("--json", default=os.path.join(ROOT, "build", "perf", "fleet_bench.json"))
    parser.add_argument("--keep-logs", default=os.path.join(ROOT, "build", "perf"))
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes, args.light_from, args.light)
    args.keep_logs = os.path.abspath(args.keep_logs)
    args.json = os.path.abspath(args.json)
    if args.compare:
        args.compare = os.path.abspath(args.compare)
        args.after = os.path.abspath(args.after)
        for tree in (args.compare, args.after):
            if not os.path.isfile(os.path.join(tree, "galaxy.yml")):
                parser.error("%s is not a source tree of the collection (no galaxy.yml)" % tree)

    env = dict(os.environ)
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_HOST_KEY_CHECKING"] = "false"
    env["ANSIBLE_FORCE_COLOR"] = "false"
    # Pipelining (one connection round per module instead of put + exec + rm)
    # applies to the playbook and to ping alike; it is what docs/performance.md
    # recommends for fleets.
    env.setdefault("ANSIBLE_PIPELINING", "true")
    envs = {}
    plays = {}
    if args.compare:
        for tree, source in (("before", args.compare), ("after", args.after)):
            path = install_tree(source, os.path.join(args.keep_logs, "collections-" + tree), env)
            envs[tree] = dict(env, ANSIBLE_COLLECTIONS_PATH=path + os.pathsep + SITE_PACKAGES)
            plays[tree] = os.path.join(source, "playbooks", "site.yml")
            log("%s: %s (git %s) installed into %s" % (tree, source, sh(
                ["git", "-C", source, "describe", "--always", "--dirty"]).strip(), path))
    else:
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", "%s/.collections%s%s" % (ROOT, os.pathsep, SITE_PACKAGES))
        envs["after"] = env
        plays["after"] = args.playbook

    os.makedirs(args.keep_logs, exist_ok=True)
    # SIGTERM (kill, a CI timeout) unwinds like Ctrl-C: the finally blocks remove the
    # instances, stop the fixture server and restore the inotify limit
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    engine = ensure_engine(args.keep_logs)
    try:
        return bench(args, sizes, envs, plays)
    finally:
        stop_engine(engine)


def converged_image(size, kind, args, work, plays, envs, fixture_url, fingerprint):
    """--clone-from: converge one instance (the seed) with the after tree and commit it as an image,
    so that a large fleet starts converged instead of N first runs at once (which a small machine
    cannot finish). The no-op runs then check every clone: changed=0 on each host."""
    seed = PREFIX + "-seed"
    log("%d hosts: converging one %s instance and committing it as their image" % (size, kind))
    start_instances(1, kind, args.image, args.network, names=[seed])
    try:
        inventory = os.path.join(work, "inventory-seed.ini")
        vars_path = write_inventory(inventory, [seed], bench_vars(fixture_url, fingerprint))
        first, proc = timed(["ansible-playbook", "-i", inventory, "-e", "@" + vars_path, plays["after"]], envs["after"])
        save_log(args.keep_logs, "fleet-%d-first.log" % size, proc)
        log("%d hosts: first run of the seed %.1f s, rc=%d" % (size, first, proc.returncode))
        if proc.returncode:
            raise SystemExit("the seed instance did not converge: see %s/fleet-%d-first.log" % (args.keep_logs, size))
        image = "local/gpufleet-bench-converged:%d" % os.getpid()
        sh(["docker", "commit", "--pause", seed, image])
    finally:
        remove_instances([seed])
    return image, first, proc


def hold(size, plays, ping_cmd, envs):
    """--hold: keep the converged instances up for profiling by hand until Ctrl-C or SIGTERM,
    then clean up as at the end of a run."""
    log("%d hosts converged and held; run by hand, e.g. with "
        "ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks:" % size)
    for tree, play in sorted(plays.items()):
        print("  %s: ANSIBLE_COLLECTIONS_PATH=%s %s" % (tree, envs[tree]["ANSIBLE_COLLECTIONS_PATH"], " ".join(play)))
    print("  ping: " + " ".join(ping_cmd), flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        raise SystemExit("held instances: interrupted, cleaning up")


def bench(args, sizes, envs, plays):
    sh(["bash", os.path.join(ROOT, "tests", "molecule", "images.sh"), "bookworm"])
    work = tempfile.mkdtemp(prefix="gpufleet-bench.")
    gateway, network_created = ensure_network(args.network, args.subnet)
    fixture_url = "http://%s:%d" % (gateway, args.port)
    repo = os.path.join(work, "repo")
    sh(["bash", os.path.join(ROOT, "tests", "molecule", "fixture_repo.sh"), repo, fixture_url])
    with open(os.path.join(repo, "fingerprint")) as handle:
        fingerprint = handle.read().strip()
    server = start_fixture_server(gateway, args.port, repo, fingerprint)
    old_inotify = raise_inotify(max(size for size, kind in sizes))
    results = []
    names = []
    try:
        for size, kind in sizes:
            image, first_hosts = args.image, size
            if size >= args.clone_from:
                image, first, proc1 = converged_image(size, kind, args, work, plays, envs, fixture_url, fingerprint)
                names = []
                first_hosts = 1
            log("%d %s instance(s): starting%s" % (size, kind, " from " + image if image != args.image else ""))
            mem_before = mem_available_kib()
            start = time.monotonic()
            names = start_instances(size, kind, image, args.network)
            start_s = time.monotonic() - start
            log("%d %s instance(s) up in %.1f s (%s)" % (size, kind, start_s, ", ".join(instance_processes(names[0]))))
            inventory = os.path.join(work, "inventory-%d.ini" % size)
            vars_path = write_inventory(inventory, names, bench_vars(fixture_url, fingerprint))
            size_plays = dict((tree, ["ansible-playbook", "-i", inventory, "-f", str(size), "-e", "@" + vars_path, play])
                              for tree, play in plays.items())
            ping_cmd = ["ansible", "all", "-i", inventory, "-f", str(size), "-m", "ansible.builtin.ping"]
            if first_hosts == size:
                first, proc1 = timed(size_plays["after"], envs["after"])
                save_log(args.keep_logs, "fleet-%d-first.log" % size, proc1)
                log("%d hosts: first run %.1f s, rc=%d, changed on %d host(s)" % (
                    size, first, proc1.returncode, sum(1 for counts in recap(proc1.stdout).values() if counts["changed"])))
            if args.hold:
                hold(size, size_plays, ping_cmd, envs)
            rss = [kib / 1024.0 for kib in instance_rss_kib(names)]
            row = {
                "hosts": size, "forks": size, "kind": kind,
                "start_s": round(start_s, 1),
                "first_run_s": round(first, 1), "first_run_rc": proc1.returncode, "first_run_hosts": first_hosts,
                "first_run_problems": [p for p in run_problems(proc1, names[:first_hosts] if first_hosts == size
                                                               else [PREFIX + "-seed"]) if not p.startswith("changed")],
                "rss_median_mib": round(median(rss), 1), "rss_min_mib": round(min(rss), 1),
                "rss_max_mib": round(max(rss), 1),
                "host_mem_per_instance_mib": round((mem_before - mem_available_kib()) / 1024.0 / size, 1),
                "processes": instance_processes(names[0]),
            }
            if args.compare:
                row.update(measure_compare(size, names, size_plays, ping_cmd, envs, args.keep_logs))
            else:
                row.update(measure_plain(size, names, size_plays["after"], ping_cmd, envs["after"], args.keep_logs))
            start = time.monotonic()
            remove_instances(names)
            names = []
            row["remove_s"] = round(time.monotonic() - start, 1)
            if image != args.image:
                subprocess.run(["docker", "image", "rm", image], check=False, stdout=subprocess.DEVNULL)
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        remove_instances(names)
        server.terminate()
        server.wait()
        restore_inotify(old_inotify)
        if network_created:
            subprocess.run(["docker", "network", "rm", args.network], check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"compare": bool(args.compare), "before": args.compare, "after": args.after if args.compare else None,
                   "results": results}, handle, indent=2)
    print_table(results, args.compare)
    failed = [row for row in results if row_failed(row, args.compare)]
    for row in failed:
        for key in ("first_run_problems", "noop_problems", "noop_before_problems", "noop_after_problems"):
            for problem in row.get(key) or []:
                print("%d hosts, %s: %s" % (row["hosts"], key.replace("_problems", "").replace("_", " "), problem))
    if failed:
        print("runs failed or a no-op run changed something: see %s/fleet-*.log" % args.keep_logs)
        return 1
    print("every no-op run: changed=0 on every host; JSON: %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
