"""STAND-IN nvidia-smi of the gpufleet.nvidia test suite (not NVIDIA software).

Answers ``--query-gpu=<fields> --format=csv,noheader,nounits`` from the
COMPOSED HGX H100 CSV next to it (tests/fixtures/gpu-hosts/
hgx-h100-8gpu-nvswitch-composed/smi-fabric-completed.csv); anything else fails.
"""
import os
import sys

CSV = os.environ.get("GPUFLEET_STANDIN_SMI_CSV", "/var/lib/gpufleet-standin/smi.csv")


def main(argv):
    fields = [arg.split("=", 1)[1].split(",") for arg in argv if arg.startswith("--query-gpu=")]
    if not fields:
        sys.stderr.write("nvidia-smi STAND-IN: only --query-gpu is simulated\n")
        return 2
    with open(CSV) as handle:
        lines = handle.read().splitlines()
    names = [cell.split(" [")[0].strip() for cell in lines[0].split(", ")]
    for line in lines[1:]:
        values = dict(zip(names, line.split(", ")))
        sys.stdout.write(", ".join(values.get(field, "[N/A]") for field in fields[0]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
