#!/usr/bin/env bash
# Installs everything Keepsake and its tests need on a fresh Debian/Ubuntu machine (or checks it on others).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: ffmpeg/ffprobe (video metadata, posters, proxies), exiftool (tests check what metadata
# really leaves the machine), xxhash (manifests are checked with xxhsum -c), libheif-examples (tests make
# real HEVC-coded HEICs with heif-enc, as iPhones write them), rclone (tests read back what was published
# with an S3 client nobody here wrote; the upload benchmark's reference), chromium (the browser the web
# pages are tested in, driven by playwright-core), openssl (tests make the TLS certificate of the loopback
# identity provider staff sign in with). The benchmark's other reference tools (vipsthumbnail,
# djpeg, ImageMagick, b3sum) come with --bench.
packages=(ffmpeg libimage-exiftool-perl xxhash libheif-examples rclone chromium openssl)
if [[ "${1:-}" == "--bench" ]]; then packages+=(libvips-tools libjpeg-turbo-progs imagemagick b3sum); fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if command -v apt-get >/dev/null; then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install: ${missing[*]} (ffmpeg, exiftool, xxhsum, rclone, chromium)" >&2
  fi
fi

# npm ci when the lock file matches, npm install otherwise (a fresh clone always matches).
if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
