# shellcheck shell=bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet and
# kube-proxy v1.20.2 from Debian bookworm's `kubernetes` source package, once per machine
# (one `make`, so the shared packages and generators are built once).
#
# Sourced by scripts/sandbox. Needs: KUBE_CACHE (where binaries are cached, keyed by version).

KUBE_VERSION="1.20.2"
KUBE_DEB_VERSION="1.20.5+really1.20.2"
KUBE_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

kube_bin_dir() { echo "$KUBE_CACHE/$KUBE_VERSION/bin"; }

kube_built() {
  local b
  for b in "${KUBE_COMPONENTS[@]}"; do
    [ -x "$(kube_bin_dir)/$b" ] && [ -s "$(kube_bin_dir)/$b" ] || return 1
  done
}

kube_build() {
  if kube_built; then
    log "kubernetes $KUBE_VERSION binaries cached in $(kube_bin_dir)"
    return 0
  fi
  local work="$KUBE_CACHE/$KUBE_VERSION/src"
  mkdir -p "$work"
  log "building kubernetes $KUBE_VERSION from Debian's source package (once per machine, ~10 min)"
  (
    set -euo pipefail
    cd "$work"
    if ! ls kubernetes_*.orig.tar.* >/dev/null 2>&1; then
      apt-get source --download-only "kubernetes=$KUBE_DEB_VERSION-1.1+deb12u1" >/dev/null 2>&1 ||
        apt-get source --download-only kubernetes >/dev/null
    fi
    if [ ! -d tree ]; then
      rm -rf tree.tmp && mkdir tree.tmp
      tar -xf kubernetes_*.orig.tar.* -C tree.tmp --strip-components=1
      mv tree.tmp tree
    fi
    cd tree
    # The vendored reflect2 v1.0.1 crashes the apiserver under Go >= 1.18 (SIGSEGV in
    # mapiternext while encoding a response); Debian's v1.0.2 fixes it.
    if ! grep -q 'reflect2 v1.0.2' vendor/modules.txt; then
      rm -rf vendor/github.com/modern-go/reflect2
      cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
      rm -f vendor/github.com/modern-go/reflect2/go.mod
      sed -i 's|github.com/modern-go/reflect2 v1.0.1|github.com/modern-go/reflect2 v1.0.2|' go.mod vendor/modules.txt
      sed -i '/github.com\/modern-go\/reflect2 v1.0.1/d' go.sum || true
    fi
    mkdir -p .go/src/k8s.io
    [ -e .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes
    # A failed first run leaves 0-byte generators behind; start over from a clean _output.
    if [ -d _output ] && find _output -name '*-gen' -size 0 | grep -q .; then rm -rf _output; fi
    mkdir -p "$work/home"
    local what="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl cmd/kubelet cmd/kube-proxy"
    GOPATH="$PWD/.go" CGO_ENABLED=0 HOME="$work/home" \
      make WHAT="$what" >"$work/build.log" 2>&1 || {
      echo "kubernetes build failed; last lines of $work/build.log:" >&2
      tail -n 30 "$work/build.log" >&2
      exit 1
    }
    mkdir -p "$(kube_bin_dir)"
    for b in "${KUBE_COMPONENTS[@]}"; do
      cp "_output/bin/$b" "$(kube_bin_dir)/$b.tmp"
      mv "$(kube_bin_dir)/$b.tmp" "$(kube_bin_dir)/$b"
    done
  ) || return 1
  # The source tree is 1+ GB once built; the binaries are all we keep.
  rm -rf "$work/tree"
  log "kubernetes binaries ready in $(kube_bin_dir)"
}
