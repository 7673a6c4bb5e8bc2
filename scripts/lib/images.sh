# shellcheck shell=bash
# The real nodes' images, built here without a registry or a container engine and imported
# into each node's containerd (every name under localhost/, so a missing one fails to pull
# without leaving the machine):
#
#   localhost/vigil-sandbox/pause:3.4.1          pause.c from the Kubernetes tree, static
#   localhost/vigil-agent:sandbox                the Containerfile's `vigil-agent` stage with the
#                                                workspace's release binary, on a runtime base
#                                                assembled from Debian packages (glibc, libgcc,
#                                                CA certificates, user 65532; no shell)
#   localhost/vigil-sandbox/influxdb-standin:sandbox   InfluxDB 1.6 (Debian) behind an entrypoint
#                                                that honours vigil's InfluxDB 2 container contract
#                                                (scripts/lib/influxdb-standin/); a stand-in
#   localhost/vigil-sandbox/debian:sandbox       Debian minbase with python3, for test workloads
#
# Built archives are cached by content under $IMAGE_CACHE; re-imported only when they change.
#
# Sourced by scripts/sandbox. Needs: KUBE_CACHE, KUBE_VERSION, REPO, SCRIPTS, log, die.

IMAGE_CACHE="${VIGIL_IMAGE_CACHE:-$HOME/.cache/vigil/images}"
PAUSE_IMAGE="localhost/vigil-sandbox/pause:3.4.1"
AGENT_IMAGE="localhost/vigil-agent:sandbox"
STANDIN_IMAGE="localhost/vigil-sandbox/influxdb-standin:sandbox"
DEBIAN_IMAGE="localhost/vigil-sandbox/debian:sandbox"
DEBIAN_PACKAGES="python3,influxdb,procps"
RUNTIME_PACKAGES=(libc6 libgcc-s1)

sha_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# image_archive NAME: the current archive of an image (written by images_build).
image_archive() { cat "$IMAGE_CACHE/$1.current"; }

pause_archive() {
  local src tree c out
  src="$(ls "$KUBE_CACHE/$KUBE_VERSION/src"/kubernetes_*.orig.tar.* 2>/dev/null | head -n1)"
  [ -n "$src" ] || die "no Kubernetes source tarball under $KUBE_CACHE/$KUBE_VERSION/src (run scripts/sandbox build-kube)"
  mkdir -p "$IMAGE_CACHE/pause"
  c="$IMAGE_CACHE/pause/pause.c"
  [ -s "$c" ] || tar -xOf "$src" --wildcards '*/build/pause/linux/pause.c' >"$c"
  out="$IMAGE_CACHE/pause-$(sha_of "$c").tar"
  if [ ! -s "$out" ]; then
    mkdir -p "$IMAGE_CACHE/pause/rootfs"
    gcc -Os -Wall -Werror -static -DVERSION=v3.4.1-vigil -o "$IMAGE_CACHE/pause/rootfs/pause" "$c"
    strip "$IMAGE_CACHE/pause/rootfs/pause"
    python3 "$SCRIPTS/lib/mkimage.py" "$PAUSE_IMAGE" "$out" --dir "$IMAGE_CACHE/pause/rootfs" \
      --entrypoint '["/pause"]' --user 65535:65535 >/dev/null
  fi
  echo "$out" >"$IMAGE_CACHE/pause.current"
}

# A distroless-like base: what `gcr.io/distroless/cc-debian12:nonroot` holds that the agent
# needs, from this machine's Debian packages.
runtime_rootfs() {
  local dir="$IMAGE_CACHE/runtime" debs key out p
  mkdir -p "$dir/debs"
  key=""
  for p in "${RUNTIME_PACKAGES[@]}"; do key+="$p=$(dpkg-query -W -f='${Version}' "$p") "; done
  key+="ca=$(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-16)"
  out="$IMAGE_CACHE/runtime-$(echo "$key" | sha256sum | cut -c1-16).tar"
  if [ ! -s "$out" ]; then
    log "assembling the runtime base from Debian packages (${RUNTIME_PACKAGES[*]}, CA certificates)"
    rm -rf "$dir/rootfs" "$dir/debs"/*.deb
    mkdir -p "$dir/rootfs"
    (cd "$dir/debs" && apt-get download -q "${RUNTIME_PACKAGES[@]}" >/dev/null 2>&1) ||
      die "apt-get download ${RUNTIME_PACKAGES[*]} failed"
    for debs in "$dir/debs"/*.deb; do dpkg-deb -x "$debs" "$dir/rootfs"; done
    rm -rf "$dir/rootfs/usr/share/doc" "$dir/rootfs/usr/share/lintian" "$dir/rootfs/usr/share/locale"
    mkdir -p "$dir/rootfs/etc/ssl/certs" "$dir/rootfs/tmp" "$dir/rootfs/home/nonroot"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/rootfs/etc/ssl/certs/"
    chmod 1777 "$dir/rootfs/tmp"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/rootfs/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$dir/rootfs/etc/group"
    tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$dir/rootfs" -cf "$out.tmp" .
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

agent_archive() {
  log "building vigil-agent (release) for the node image"
  (cd "$REPO" && cargo build --release --locked -q -p vigil-agent) || die "cargo build --release -p vigil-agent failed"
  local base stage out key
  base="$(runtime_rootfs)"
  stage="$IMAGE_CACHE/agent-stage"
  mkdir -p "$stage/out"
  cp "$REPO/target/release/vigil-agent" "$stage/out/vigil-agent.tmp"
  strip "$stage/out/vigil-agent.tmp"
  mv "$stage/out/vigil-agent.tmp" "$stage/out/vigil-agent"
  key="$(sha_of "$base" "$stage/out/vigil-agent" "$REPO/Containerfile" "$SCRIPTS/lib/mkimage.py")"
  out="$IMAGE_CACHE/vigil-agent-$key.tar"
  if [ ! -s "$out" ]; then
    # The image is the Containerfile's own `vigil-agent` stage: its user, entrypoint, port and
    # labels come from there; `build` stands for the compile stage, RUNTIME for the base.
    python3 "$SCRIPTS/lib/mkimage.py" "$AGENT_IMAGE" "$out" --containerfile "$REPO/Containerfile" \
      --target vigil-agent --base "$base" --stage "build=$stage" >/dev/null
    find "$IMAGE_CACHE" -maxdepth 1 -name 'vigil-agent-*.tar' ! -name "vigil-agent-$key.tar" -delete
  fi
  echo "$out" >"$IMAGE_CACHE/vigil-agent.current"
}

debian_rootfs() {
  local out
  out="$IMAGE_CACHE/debian-$(echo "bookworm minbase $DEBIAN_PACKAGES" | sha256sum | cut -c1-16).tar"
  if [ ! -s "$out" ]; then
    log "building a Debian bookworm minbase rootfs with $DEBIAN_PACKAGES (mmdebstrap, about a minute)"
    # mmdebstrap picks the output format from the name: keep `.tar` at the end.
    mmdebstrap --quiet --variant=minbase --include="$DEBIAN_PACKAGES" --aptopt='Acquire::Retries "3"' \
      bookworm "${out%.tar}.partial.tar" "deb http://deb.debian.org/debian bookworm main" >"$IMAGE_CACHE/mmdebstrap.log" 2>&1 ||
      { tail -n 20 "$IMAGE_CACHE/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $IMAGE_CACHE/mmdebstrap.log)"; }
    mv "${out%.tar}.partial.tar" "$out"
  fi
  echo "$out"
}

debian_archives() {
  local rootfs entry out key
  rootfs="$(debian_rootfs)"
  out="$IMAGE_CACHE/debian-image-$(sha_of "$rootfs" "$SCRIPTS/lib/mkimage.py").tar"
  [ -s "$out" ] || python3 "$SCRIPTS/lib/mkimage.py" "$DEBIAN_IMAGE" "$out" --layer "$rootfs" \
    --cmd '["/bin/bash"]' >/dev/null
  echo "$out" >"$IMAGE_CACHE/debian.current"
  entry="${VIGIL_STANDIN_ENTRYPOINT:-$SCRIPTS/lib/influxdb-standin/entrypoint.py}"
  key="$(sha_of "$rootfs" "$entry" "$SCRIPTS/lib/mkimage.py")"
  out="$IMAGE_CACHE/influxdb-standin-$key.tar"
  if [ ! -s "$out" ]; then
    python3 "$SCRIPTS/lib/mkimage.py" "$STANDIN_IMAGE" "$out" --layer "$rootfs" \
      --add "$entry:/usr/local/lib/vigil-standin/entrypoint.py" \
      --entrypoint '["/usr/bin/python3", "/usr/local/lib/vigil-standin/entrypoint.py"]' --user 1000:1000 >/dev/null
    find "$IMAGE_CACHE" -maxdepth 1 -name 'influxdb-standin-*.tar' ! -name "influxdb-standin-$key.tar" -delete
  fi
  echo "$out" >"$IMAGE_CACHE/influxdb-standin.current"
}

images_build() {
  mkdir -p "$IMAGE_CACHE"
  pause_archive
  agent_archive
  debian_archives
}

# images_import N: imports every image whose archive changed since the node last imported it.
images_import() {
  local n="$1" name archive mark
  mkdir -p "$(node_dir "$n")/imported"
  for name in pause vigil-agent influxdb-standin debian; do
    archive="$(image_archive "$name")"
    mark="$(node_dir "$n")/imported/$name"
    [ -f "$mark" ] && [ "$(cat "$mark")" = "$archive" ] && continue
    ctr --address "$(node_sock "$n")" -n k8s.io images import "$archive" >/dev/null ||
      die "importing $archive into node $n failed"
    echo "$archive" >"$mark"
  done
}
