"""gpu_config role through site.yml on a simulated MIG host: the STAND-IN
nvidia-smi (a test tool, not NVIDIA software) holds an H200 with the real
captured MIG profiles and placements in /var/lib/nvidia-smi-stand-in/state.json."""
import json

STATE = "/var/lib/nvidia-smi-stand-in/state.json"
UNIT = "gpufleet-mig.service"
WANTED = [("1g.18gb", ["1g.18gb"]), ("2g.35gb", ["1c.2g.35gb", "1c.2g.35gb"]), ("3g.71gb", ["3g.71gb"])]


def gpu(host):
    return json.loads(host.file(STATE).content_string)["gpus"][0]


def layout(state_gpu):
    names = []
    for gi in state_gpu["instances"]:
        g = int(gi["profile"].split("g.")[0])
        cis = sorted(gi["profile"] if c["slices"] == g else "%dc.%s" % (c["slices"], gi["profile"])
                     for c in gi["compute_instances"])
        names.append((gi["profile"], cis))
    return sorted(names)


def test_mig_enabled_and_layout_created(host):
    state = gpu(host)
    assert state["mig_current"] == "Enabled"
    assert layout(state) == WANTED


def test_declaration_written_for_the_boot_unit(host):
    config = host.file("/etc/gpufleet/mig.json")
    assert config.mode == 0o644 and config.user == "root"
    data = json.loads(config.content_string)
    assert data["gpus"][0]["instances"][0] == "3g.71gb"
    assert data["nvidia_smi"] == "/usr/local/libexec/nvidia-smi-stand-in"
    assert host.file("/usr/local/lib/gpufleet/gpufleet_mig.py").exists
    assert host.file("/usr/local/lib/gpufleet/gpufleet-mig-apply").mode == 0o644


def test_unit_enabled_and_ordered_before_the_container_runtimes(host):
    assert host.service(UNIT).is_enabled
    before = host.check_output("systemctl show -p Before --value %s" % UNIT).split()
    for unit in ("docker.service", "containerd.service", "kubelet.service", "nvidia-cdi-refresh.service"):
        assert unit in before, unit
    after = host.check_output("systemctl show -p After --value %s" % UNIT).split()
    assert "nvidia-persistenced.service" in after


def test_boot_unit_recreates_the_layout_after_a_reboot(host):
    # A reboot keeps MIG mode and loses every instance: simulate that, then run the unit.
    host.check_output("python3 -c \"import json; p='%s'; s=json.load(open(p)); "
                      "s['gpus'][0]['instances']=[]; json.dump(s, open(p, 'w'))\"" % STATE)
    assert layout(gpu(host)) == []
    host.check_output("systemctl restart %s" % UNIT)
    assert host.service(UNIT).is_running or \
        host.check_output("systemctl show -p ActiveState --value %s" % UNIT) == "active"
    assert layout(gpu(host)) == WANTED
    journal = host.check_output("journalctl -u %s --no-pager" % UNIT)
    assert "ran: nvidia-smi mig -i 0 -cgi" in journal
