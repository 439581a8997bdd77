#!/usr/bin/env bash
# Build the TEST FIXTURE apt repository the Molecule scenarios install the
# NVIDIA Container Toolkit from, laid out like NVIDIA's:
#
#   OUT/gpgkey                          throwaway public key, ASCII armoured
#   OUT/gpgkey.gpg                      the same key, binary (for signed-by)
#   OUT/fingerprint                     its fingerprint (40 hex digits)
#   OUT/stable/deb/<arch>/              *.deb Packages(.gz) Release InRelease Release.gpg
#   OUT/stable/deb/nvidia-container-toolkit.list   a ready-made source line
#   OUT/debs/<arch>/                    the pinned version's .debs only (air-gapped installs)
#   OUT/MANIFEST                        every package: REAL or STAND-IN, and what it is
#
# What is real and what is a stand-in:
#   - nvidia-container-toolkit-base and nvidia-container-toolkit at the toolkit
#     source's own version (1.20.0-1): REAL. NVIDIA's programs built from NVIDIA's
#     source (../shared/toolkit/build.sh) and packaged with the source's own
#     packaging/debian by tests/fixtures/packages/build_toolkit_debs.sh (cached).
#   - every other package is a STAND-IN from tests/fixtures/packages/stand-ins/
#     (shell/Python scripts, NOT NVIDIA software, "STAND-IN" in its Description):
#     libnvidia-container1 and libnvidia-container-tools (C, cannot be built
#     here; needed only by the legacy mode) at every version, the whole toolkit
#     at the OLDER versions (the upgrade and migration paths start from them),
#     and the deprecated nvidia-docker2; and, for the datacenter scenario, the
#     driver meta package nvidia-open-580, nvidia-fabricmanager, libnvidia-nscq,
#     nvidia-imex, nvlsm, libnvsdm and datacenter-gpu-manager-4-cuda13 (empty
#     packages with NVIDIA's names and versions; units that only sleep).
#
# The signing key is generated for every build in a temporary GNUPGHOME and
# thrown away afterwards: nothing trusts it but the test instances.
# Usage: fixture_repo.sh OUT_DIR BASE_URL
#   env: GPUFLEET_FIXTURE_VERSIONS  (default "1.13.5-1 1.17.8-1 1.20.0-1"; the last is the pinned one
#                                    and must be the toolkit source's version)
#        GPUFLEET_FIXTURE_ARCHES    (default "amd64 arm64")
#        GPUFLEET_TOOLKIT_DIR, GPUFLEET_TOOLKIT_CACHE  (build_toolkit_debs.sh)
set -euo pipefail

OUT="${1:?usage: fixture_repo.sh OUT_DIR BASE_URL}"
BASE_URL="${2:?usage: fixture_repo.sh OUT_DIR BASE_URL}"
PACKAGES_DIR="$(cd "$(dirname "$0")/../fixtures/packages" && pwd)"
SRC="$PACKAGES_DIR/stand-ins"
read -r -a VERSIONS <<<"${GPUFLEET_FIXTURE_VERSIONS:-1.13.5-1 1.17.8-1 1.20.0-1}"
read -r -a ARCHES <<<"${GPUFLEET_FIXTURE_ARCHES:-amd64 arm64}"
PINNED="${VERSIONS[${#VERSIONS[@]}-1]}"
TOOLKIT_PACKAGES=(libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base nvidia-container-toolkit)
STANDIN_ALWAYS=(libnvidia-container1 libnvidia-container-tools)
REAL_PACKAGES=(nvidia-container-toolkit-base nvidia-container-toolkit)
DATACENTER_STANDINS=("nvidia-open-580 580.95.05-1" "nvidia-fabricmanager 580.95.05-1" "libnvidia-nscq 580.95.05-1"
                     "nvidia-imex 580.95.05-1" "nvlsm 2025.06.6-1" "libnvsdm 580.95.05-1"
                     "datacenter-gpu-manager-4-cuda13 4.4.1-1")

log() { printf '[fixture-repo] %s\n' "$*" >&2; }

rm -rf "$OUT"; mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
export GNUPGHOME="$WORK/gnupg"
mkdir -m 700 "$GNUPGHOME"
trap 'gpgconf --kill all >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

build_pkg() { # build_pkg NAME VERSION ARCH DEST_DIR
  local name="$1" version="$2" arch="$3" dest="$4" tree="$WORK/tree/$1-$2-$3"
  rm -rf "$tree"; mkdir -p "$tree"
  cp -a "$SRC/$name/." "$tree/"
  { grep -rlZ '@VERSION@\|@UPSTREAM@\|@ARCH@' "$tree" || true; } | xargs -0 -r sed -i \
    -e "s/@VERSION@/$version/g" -e "s/@UPSTREAM@/${version%-*}/g" -e "s/@ARCH@/$arch/g"
  find "$tree" -type d -exec chmod 755 {} +
  dpkg-deb --root-owner-group -Zxz --build "$tree" "$dest/" >/dev/null
}

manifest() { printf '%-31s %-9s %-6s %-9s %s\n' "$@" >>"$OUT/MANIFEST"; }
printf '%-31s %-9s %-6s %-9s %s\n' package version arch kind what >"$OUT/MANIFEST"
log "building ${TOOLKIT_PACKAGES[*]} nvidia-docker2 for ${ARCHES[*]} (versions ${VERSIONS[*]}; pinned, real toolkit: $PINNED)"
for arch in "${ARCHES[@]}"; do
  repo="$OUT/stable/deb/$arch"; mkdir -p "$repo" "$OUT/debs/$arch"
  for version in "${VERSIONS[@]}"; do
    if [ "$version" = "$PINNED" ]; then
      # NVIDIA's programs and packaging; fails when the source is not at this version
      bash "$PACKAGES_DIR/build_toolkit_debs.sh" "$repo" "$arch" "$version"
      for pkg in "${REAL_PACKAGES[@]}"; do
        manifest "$pkg" "$version" "$arch" REAL "NVIDIA's programs built from source, the source's packaging/debian"
      done
      standins=("${STANDIN_ALWAYS[@]}")
    else
      standins=("${TOOLKIT_PACKAGES[@]}")
    fi
    for pkg in "${standins[@]}"; do
      build_pkg "$pkg" "$version" "$arch" "$repo"
      manifest "$pkg" "$version" "$arch" STAND-IN "tests/fixtures/packages/stand-ins/$pkg, not NVIDIA software"
    done
  done
  build_pkg nvidia-docker2 2.13.0-1 all "$repo"
  manifest nvidia-docker2 2.13.0-1 all STAND-IN "tests/fixtures/packages/stand-ins/nvidia-docker2, not NVIDIA software"
  # datacenter scenario: driver, Fabric Manager, NVLSM, IMEX and DCGM STAND-INS (names and versions as NVIDIA's)
  for entry in "${DATACENTER_STANDINS[@]}"; do
    read -r pkg version <<<"$entry"
    build_pkg "$pkg" "$version" "$arch" "$repo"
    manifest "$pkg" "$version" "$arch" STAND-IN "tests/fixtures/packages/stand-ins/$pkg, not NVIDIA software"
  done
  for pkg in "${TOOLKIT_PACKAGES[@]}"; do cp "$repo/${pkg}_${PINNED}_${arch}.deb" "$OUT/debs/$arch/"; done
done

log "generating a throwaway signing key"
gpg --batch --quiet --passphrase '' --quick-gen-key \
  "gpufleet.nvidia test fixture repository (throwaway, NOT NVIDIA) <gpufleet-tests@invalid>" \
  ed25519 sign 30d 2>/dev/null
FPR="$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr:/ {print $10; exit}')"
gpg --batch --armor --export "$FPR" >"$OUT/gpgkey"
gpg --batch --export "$FPR" >"$OUT/gpgkey.gpg"
printf '%s\n' "$FPR" >"$OUT/fingerprint"

for arch in "${ARCHES[@]}"; do
  repo="$OUT/stable/deb/$arch"
  ( cd "$repo"
    apt-ftparchive packages . >Packages 2>/dev/null
    gzip -9kn Packages
    apt-ftparchive \
      -o APT::FTPArchive::Release::Origin="gpufleet-test-fixtures" \
      -o APT::FTPArchive::Release::Label="gpufleet.nvidia test fixtures (toolkit built from source; stand-ins named in MANIFEST)" \
      -o APT::FTPArchive::Release::Architectures="$arch all" \
      release . >"$WORK/Release"
    mv "$WORK/Release" Release
    gpg --batch --yes --clearsign -u "$FPR" -o InRelease Release
    gpg --batch --yes --armor --detach-sign -u "$FPR" -o Release.gpg Release )
done
printf "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] %s/stable/deb/\$(ARCH) /\n" \
  "$BASE_URL" >"$OUT/stable/deb/nvidia-container-toolkit.list"
cat >"$OUT/README.txt" <<EOT
TEST FIXTURE repository of the gpufleet.nvidia test suite, not published by NVIDIA.
nvidia-container-toolkit-base and nvidia-container-toolkit $PINNED: NVIDIA's programs built
from NVIDIA's source with the source's own packaging. Everything else is a STAND-IN
(tests/fixtures/packages/stand-ins, not NVIDIA software). See MANIFEST.
Versions: ${VERSIONS[*]}; pinned: $PINNED.
Signed with a throwaway key, fingerprint $FPR.
EOT
log "repository ready in $OUT (key $FPR, pinned $PINNED)"
