"""Prepare ansible-test's pip bootstrap without ci-files.testing.ansible.com.

ansible-test creates one virtual environment per sanity test and installs pip
into it with a "get-pip" script it downloads from ci-files.testing.ansible.com,
which the test machines cannot reach.  The script is cached in
``~/.ansible/test/cache/get_pip_<version>.py``; this program writes an
equivalent one there: it runs ``pip install`` from a pip wheel fetched from
PyPI (which is reachable), exactly what get-pip does with its embedded copy.

Usage: offline_get_pip.py PIP_VERSION
"""
import os
import subprocess
import sys

SCRIPT = '''"""pip bootstrap for ansible-test: run pip from a wheel to install pip."""
import sys
sys.path.insert(0, {wheel!r})
from pip._internal.cli.main import main as _pip_main
# get-pip's own switches: without them it would also install setuptools/wheel.
own = ("--no-setuptools", "--no-wheel")
args = ["install", "--upgrade", "--force-reinstall"] + [a for a in sys.argv[1:] if a not in own]
sys.exit(_pip_main(args))
'''


def main():
    version = sys.argv[1]
    cache = os.path.expanduser("~/.ansible/test/cache")
    target = os.path.join(cache, "get_pip_%s.py" % version.replace(".", "_"))
    wheel = os.path.join(cache, "pip-%s-py3-none-any.whl" % version)
    if not os.path.isdir(cache):
        os.makedirs(cache)
    if not os.path.exists(wheel):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                               "--only-binary=:all:", "-d", cache, "pip==%s" % version])
    with open(target + ".tmp", "w") as handle:
        handle.write(SCRIPT.format(wheel=wheel))
    os.rename(target + ".tmp", target)
    print("ansible-test pip bootstrap ready: %s" % target)


if __name__ == "__main__":
    main()
