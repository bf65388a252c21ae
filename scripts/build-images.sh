#!/usr/bin/env bash
# Builds the vPod images without any registry, on the Docker Engine that DOCKER_HOST names (else the default socket):
#   metanode/compute-vpod:latest  the reference workload (src/Workload), self-contained for linux-x64
#   metanode/busybox:latest       a static busybox, for small test workloads
# Each image is FROM scratch: the script assembles a root file system and builds the Dockerfile under deploy/images/
# with it as the context. Needs: docker (the client), dotnet, busybox-static (Debian) and ldd.
# Each image carries the label metanode.source: a hash of the files it is built from, so a stale image can be told apart.
# Usage: scripts/build-images.sh [compute-vpod|busybox]...   (default: both)
#        scripts/build-images.sh --source-hash compute-vpod|busybox   (prints the hash a fresh build would carry)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# The files an image is built from, hashed by path and content (bin/ and obj/ left out).
source_hash() {
  local paths
  case "$1" in
    compute-vpod) paths=(src/Workload src/Protocol src/Interfaces deploy/images/compute-vpod scripts/build-images.sh Directory.Build.props Directory.Packages.props) ;;
    busybox) paths=(deploy/images/busybox) ;;
    *) echo "build-images: unknown image '$1' (use compute-vpod or busybox)" >&2; return 2 ;;
  esac
  find "${paths[@]}" -type f -not -path '*/bin/*' -not -path '*/obj/*' -print0 | LC_ALL=C sort -z |
    while IFS= read -r -d '' file; do printf '%s\n' "$file"; sha256sum < "$file"; done | sha256sum | cut -c1-16
}

if [ "${1:-}" = --source-hash ]; then
  source_hash "${2:-}"
  exit
fi

images=("$@")
[ "${#images[@]}" -gt 0 ] || images=(compute-vpod busybox)

busybox_bin=$(command -v busybox || true)
if [ -z "$busybox_bin" ] || ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "build-images: a static busybox is needed on PATH: apt-get install busybox-static" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/metanode-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A static busybox as /bin/busybox with a link per applet.
add_busybox() {
  local root=$1
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/vpod/data" "$root/vpod/key"
  chmod 1777 "$root/tmp"
  cp "$busybox_bin" "$root/bin/busybox"
  for applet in $("$busybox_bin" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  # The workloads run as metanode (65532, USER in the Dockerfiles), which owns /vpod/data and /vpod/key (COPY --chown).
  printf 'root:x:0:0:root:/root:/bin/sh\nmetanode:x:65532:65532:metanode:/vpod/data:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nmetanode:x:65532:\nnogroup:x:65534:\n' > "$root/etc/group"
}

# Copies the shared libraries that the ELF files under $1 link against (and the dynamic loader) into the same paths under $2.
add_libraries() {
  local from=$1 root=$2
  find "$from" -type f \( -name '*.so' -o -perm -u+x \) -print0 | while IFS= read -r -d '' elf; do
    ldd "$elf" 2>/dev/null | grep -oE '/[^ ]+' || true
  done | sort -u | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# .NET's cryptography (SHA-256, the random numbers a workload's key is made from) loads OpenSSL with dlopen, which ldd
# cannot see: copy libssl and libcrypto, and what they link against, into the same paths.
add_openssl() {
  local root=$1 lib path staged
  staged="$work/openssl"
  mkdir -p "$staged"
  for lib in libssl.so.3 libcrypto.so.3; do
    # awk reads all of ldconfig's output (no early exit): under pipefail a SIGPIPE in ldconfig would fail the script.
    path=$( (ldconfig -p 2>/dev/null || true) | awk -v name="$lib" '$1 == name && /x86-64/ && !found { print $NF; found = 1 }')
    if [ -z "$path" ]; then
      for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64; do
        [ -e "$dir/$lib" ] && { path="$dir/$lib"; break; }
      done
    fi
    if [ -z "$path" ]; then
      echo "build-images: $lib was not found (apt-get install libssl3)" >&2
      exit 1
    fi
    mkdir -p "$root$(dirname "$path")"
    cp -L "$path" "$root$path"
    cp -L "$path" "$staged/$lib.so"  # add_libraries looks at *.so files
  done
  add_libraries "$staged" "$root"
}

build() {
  local name=$1 context=$2
  echo "build-images: building metanode/$name:latest"
  DOCKER_BUILDKIT=0 docker build --quiet --tag "metanode/$name:latest" --label "metanode.source=$(source_hash "$name")" --file "$repo/deploy/images/$name/Dockerfile" "$context" >/dev/null
  docker image inspect --format "build-images: metanode/$name:latest {{.Id}} {{.Size}} bytes" "metanode/$name:latest"
}

for image in "${images[@]}"; do
  case "$image" in
    compute-vpod)
      root="$work/compute-vpod"
      add_busybox "$root"
      dotnet publish "$repo/src/Workload/MetaNode.Workload.csproj" -c Release -r linux-x64 --self-contained true \
        --artifacts-path "$work/artifacts" -o "$root/app" -nologo -v quiet -p:UseAppHost=true
      add_libraries "$root/app" "$root"
      add_openssl "$root"
      build compute-vpod "$root"
      ;;
    busybox)
      root="$work/busybox"
      add_busybox "$root"
      build busybox "$root"
      ;;
    *)
      echo "build-images: unknown image '$image' (use compute-vpod or busybox)" >&2
      exit 2
      ;;
  esac
done
