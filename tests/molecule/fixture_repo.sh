#!/usr/bin/env bash
# Build the TEST FIXTURE apt repository the Molecule scenarios install the
# "NVIDIA Container Toolkit" from. The packages are built from
# tests/fixtures/packages/ (shell/Python stand-ins, NOT NVIDIA software) and
# published in a flat repository laid out like NVIDIA's:
#
#   OUT/gpgkey                          throwaway public key, ASCII armoured
#   OUT/gpgkey.gpg                      the same key, binary (for signed-by)
#   OUT/fingerprint                     its fingerprint (40 hex digits)
#   OUT/stable/deb/<arch>/              *.deb Packages(.gz) Release InRelease Release.gpg
#   OUT/stable/deb/nvidia-container-toolkit.list   a ready-made source line
#   OUT/debs/<arch>/                    the pinned version's .debs only (air-gapped installs)
#
# The signing key is generated for every build in a temporary GNUPGHOME and
# thrown away afterwards: nothing trusts it but the test instances.
# Usage: fixture_repo.sh OUT_DIR BASE_URL
#   env: GPUFLEET_FIXTURE_VERSIONS  (default "1.13.5-1 1.17.8-1"; the last is the pinned one)
#        GPUFLEET_FIXTURE_ARCHES    (default "amd64 arm64")
set -euo pipefail

OUT="${1:?usage: fixture_repo.sh OUT_DIR BASE_URL}"
BASE_URL="${2:?usage: fixture_repo.sh OUT_DIR BASE_URL}"
SRC="$(cd "$(dirname "$0")/../fixtures/packages" && pwd)"
read -r -a VERSIONS <<<"${GPUFLEET_FIXTURE_VERSIONS:-1.13.5-1 1.17.8-1}"
read -r -a ARCHES <<<"${GPUFLEET_FIXTURE_ARCHES:-amd64 arm64}"
PINNED="${VERSIONS[${#VERSIONS[@]}-1]}"
TOOLKIT_PACKAGES=(libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base nvidia-container-toolkit)

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

log "building packages ${TOOLKIT_PACKAGES[*]} nvidia-docker2 for ${ARCHES[*]} (versions ${VERSIONS[*]})"
for arch in "${ARCHES[@]}"; do
  repo="$OUT/stable/deb/$arch"; mkdir -p "$repo" "$OUT/debs/$arch"
  for version in "${VERSIONS[@]}"; do
    for pkg in "${TOOLKIT_PACKAGES[@]}"; do build_pkg "$pkg" "$version" "$arch" "$repo"; done
  done
  build_pkg nvidia-docker2 2.13.0-1 all "$repo"
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
      -o APT::FTPArchive::Release::Label="gpufleet.nvidia test fixtures (not NVIDIA software)" \
      -o APT::FTPArchive::Release::Architectures="$arch all" \
      release . >"$WORK/Release"
    mv "$WORK/Release" Release
    gpg --batch --yes --clearsign -u "$FPR" -o InRelease Release
    gpg --batch --yes --armor --detach-sign -u "$FPR" -o Release.gpg Release )
done
printf "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] %s/stable/deb/\$(ARCH) /\n" \
  "$BASE_URL" >"$OUT/stable/deb/nvidia-container-toolkit.list"
cat >"$OUT/README.txt" <<EOT
TEST FIXTURE repository of the gpufleet.nvidia test suite. NOT NVIDIA software.
Packages: stand-ins built from tests/fixtures/packages (versions: ${VERSIONS[*]}; pinned: $PINNED).
Signed with a throwaway key, fingerprint $FPR.
EOT
log "repository ready in $OUT (key $FPR, pinned $PINNED)"
