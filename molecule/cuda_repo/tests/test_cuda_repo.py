"""cuda_repo against the signed TEST FIXTURE repository (a stand-in for NVIDIA's CUDA tree)."""
import os

KEYRING = "/etc/apt/keyrings/cuda-archive-keyring.asc"


def _primary_keys(host, path):
    listing = host.check_output(
        "home=$(mktemp -d); gpg --homedir $home --batch --with-colons --show-keys %s 2>/dev/null; rm -rf $home"
        % path)
    lines = listing.splitlines()
    return [lines[i + 1].split(":")[9] for i, line in enumerate(lines)
            if line.startswith("pub:") and i + 1 < len(lines) and lines[i + 1].startswith("fpr:")]


def test_keyring_holds_exactly_the_wanted_key(host):
    assert _primary_keys(host, KEYRING) == [os.environ["GPUFLEET_FIXTURE_FINGERPRINT"]]
    assert host.file(KEYRING).content_string == host.file("/var/lib/gpufleet-test/repo-key.asc").content_string
    assert host.file(KEYRING).mode == 0o644


def test_deb822_source_with_signed_by(host):
    text = host.file("/etc/apt/sources.list.d/cuda.sources").content_string
    assert "URIs: %s/stable/deb/amd64/\n" % os.environ["GPUFLEET_FIXTURE_URL"] in text
    assert "Suites: /\n" in text
    assert "Signed-By: %s\n" % KEYRING in text


def test_earlier_source_removed(host):
    assert not host.file("/etc/apt/sources.list.d/cuda-debian12-x86_64.list").exists


def test_apt_reads_the_signed_repository(host):
    policy = host.check_output("apt-cache policy nvidia-container-toolkit")
    assert "%s/stable/deb/amd64" % os.environ["GPUFLEET_FIXTURE_URL"] in policy


def test_pin_file(host):
    assert "Pin: release l=NVIDIA CUDA" in host.file("/etc/apt/preferences.d/cuda-repository-pin-600").content_string


def test_no_candidate_or_temporary_key_files_left(host):
    assert host.run("ls -a /etc/apt/keyrings | grep -c candidate").stdout.strip() == "0"
    assert host.run("find /tmp /var/tmp -name '*.repo-key' | wc -l").stdout.strip() == "0"
