"""Fleet benchmark: playbooks/site.yml across N systemd instances at once.

For each fleet size N (default 1, 5, 20) it starts N instances of the Docker
host image used by Molecule (local/gpufleet-docker:bookworm, systemd as PID 1,
Docker inside), converges them with site.yml as gpu_docker_hosts with the
container toolkit from the TEST FIXTURE repository (stand-in packages, not
NVIDIA software) using forks=N, and reports:

  * first run   wall time of the converging run
  * no-op run   wall time of a re-run (median of three; each must report changed=0)
  * ping        wall time of `ansible -m ping` over the same instances (median of three)
  * ratio       no-op run / ping (target: under 4 on 20 hosts)

A script, not a timed test: it is not run in CI. Needs a running Docker
engine (tests/molecule/run.sh starts one) and the collection installed
(make install). Usage:

  .venv/bin/python tests/perf/fleet_bench.py [--sizes 1,5,20] [--json OUT]
"""
import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, ".venv", "bin")
SYSTEMD_FLAGS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined", "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "-v", "/var/lib/docker", "-v", "/var/lib/containerd",
]
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw).stdout


def ensure_network(name, subnet):
    """A network of the benchmark's own (see tests/molecule/run.sh); its gateway address."""
    if subprocess.run(["docker", "network", "inspect", name], check=False,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        gateway = str(next(ipaddress.ip_network(subnet).hosts()))
        sh(["docker", "network", "create", "--driver", "bridge", "--subnet", subnet, "--gateway", gateway, name])
    gateway = sh(["docker", "network", "inspect", name, "-f", "{{(index .IPAM.Config 0).Gateway}}"]).strip()
    if not gateway:  # created earlier without --gateway: the bridge has the subnet's first address
        found = sh(["docker", "network", "inspect", name, "-f", "{{(index .IPAM.Config 0).Subnet}}"]).strip()
        gateway = str(next(ipaddress.ip_network(found).hosts()))
    return gateway


def start_instances(prefix, count, image, network):
    names = ["%s-%02d" % (prefix, i) for i in range(count)]
    for name in names:
        sh(["docker", "run", "-d", "--name", name, "--hostname", name, "--network", network,
            "--label", "gpufleet-bench=1"]
           + SYSTEMD_FLAGS + [image, "/lib/systemd/systemd"])
    for name in names:
        subprocess.run(["docker", "exec", name, "systemctl", "is-system-running", "--wait"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return names


def remove_instances(names):
    if names:
        subprocess.run(["docker", "rm", "-f", "-v"] + names, check=False, stdout=subprocess.DEVNULL)


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


def changed_total(output):
    return sum(int(m.group(3)) for m in RECAP.finditer(output))


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,20")
    parser.add_argument("--image", default=os.environ.get("GPUFLEET_IMAGE_DOCKER_BOOKWORM",
                                                          "local/gpufleet-docker:bookworm"))
    parser.add_argument("--playbook", default=os.path.join(ROOT, "playbooks", "site.yml"))
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--network", default="gpufleet-bench")
    parser.add_argument("--subnet", default="172.31.251.0/24")
    parser.add_argument("--json", default=os.path.join(ROOT, "build", "perf", "fleet_bench.json"))
    parser.add_argument("--keep-logs", default=os.path.join(ROOT, "build", "perf"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    sh(["bash", os.path.join(ROOT, "tests", "molecule", "images.sh"), "bookworm"])
    os.makedirs(args.keep_logs, exist_ok=True)
    work = tempfile.mkdtemp(prefix="gpufleet-bench.")
    gateway = ensure_network(args.network, args.subnet)
    fixture_url = "http://%s:%d" % (gateway, args.port)
    repo = os.path.join(work, "repo")
    sh(["bash", os.path.join(ROOT, "tests", "molecule", "fixture_repo.sh"), repo, fixture_url])
    with open(os.path.join(repo, "fingerprint")) as handle:
        fingerprint = handle.read().strip()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", gateway,
                               "--directory", repo, str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ)
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", "%s/.collections:%s/.venv/lib/python3.11/site-packages"
                   % (ROOT, ROOT))
    env["ANSIBLE_HOST_KEY_CHECKING"] = "false"
    env["ANSIBLE_FORCE_COLOR"] = "false"
    # Pipelining (one connection round per module instead of put + exec + rm)
    # applies to the playbook and to ping alike; it is what docs/performance.md
    # recommends for fleets.
    env.setdefault("ANSIBLE_PIPELINING", "true")
    results = []
    names = []
    try:
        for size in sizes:
            names = start_instances("gpufleet-bench", size, args.image, args.network)
            inventory = os.path.join(work, "inventory-%d.ini" % size)
            vars_path = write_inventory(inventory, names, bench_vars(fixture_url, fingerprint))
            play = ["ansible-playbook", "-i", inventory, "-f", str(size), "-e", "@" + vars_path, args.playbook]
            first, proc1 = timed(play, env)
            # median of three no-op runs and three ping rounds: single runs on a
            # shared 2-core machine vary by a few tenths of a second
            ping_cmd = ["ansible", "all", "-i", inventory, "-f", str(size), "-m", "ansible.builtin.ping"]
            noops = [timed(play, env) for run in range(3)]
            pings = [timed(ping_cmd, env) for run in range(3)]
            noop, proc2 = sorted(noops, key=lambda item: item[0])[1]
            ping, proc3 = sorted(pings, key=lambda item: item[0])[1]
            # a no-op run that failed or changed something is the one reported
            proc2 = next((item[1] for item in noops if item[1].returncode or changed_total(item[1].stdout)), proc2)
            for label, proc in (("first", proc1), ("noop", proc2), ("ping", proc3)):
                with open(os.path.join(args.keep_logs, "fleet-%d-%s.log" % (size, label)), "w") as handle:
                    handle.write(proc.stdout)
            row = {
                "hosts": size, "forks": size,
                "first_run_s": round(first, 1), "first_run_rc": proc1.returncode,
                "noop_run_s": round(noop, 1), "noop_run_rc": proc2.returncode,
                "noop_changed": changed_total(proc2.stdout),
                "ping_s": round(ping, 1), "ping_rc": proc3.returncode,
                "noop_over_ping": round(noop / ping, 2) if ping else None,
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            remove_instances(names)
            names = []
    finally:
        remove_instances(names)
        server.terminate()
        server.wait()
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump(results, handle, indent=2)
    print("\n%-6s %-6s %12s %12s %8s %14s" % ("hosts", "forks", "first run s", "no-op run s", "ping s", "no-op / ping"))
    for row in results:
        print("%-6d %-6d %12.1f %12.1f %8.1f %14.2f" % (
            row["hosts"], row["forks"], row["first_run_s"], row["noop_run_s"], row["ping_s"],
            row["noop_over_ping"] or 0))
    failed = [r for r in results if r["first_run_rc"] or r["noop_run_rc"] or r["ping_rc"] or r["noop_changed"]]
    if failed:
        print("runs failed or the no-op run changed something: see %s/fleet-*.log" % args.keep_logs)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
