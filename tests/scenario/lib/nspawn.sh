# SPDX-License-Identifier: MIT
# systemd as PID 1 in a container, for the scenarios that test systemd units for real (the recipe and its
# gotchas: ../shared/notes/testing-systemd.md). The container's root is an overlay of the host's root on a
# tmpfs: the host's nginx, php-fpm, the build and the test's jails are all visible inside, and nothing the
# container writes reaches the host. Its network is private (loopback only).
#
#   nspawn_usable || skip "$NSPAWN_WHY"      # 77 with the reason when this machine cannot boot one
#   nspawn_boot NAME [DIR...]                 # boots; DIRs (absolute) are hidden inside (whiteouts)
#   ns systemctl start x.socket               # a command in the container (all its namespaces)
#   ns_net curl -s http://127.0.0.1:8080/     # a host binary in the container's network only
#   nspawn_stop                               # idempotent; call it from the scenario's EXIT trap
#
# Files the test writes for the container must be written below "$NS_ROOT" (the overlay's top): a file
# changed in the lower layer (the host) after the boot is not reliably seen inside.
# After nspawn_boot: NS_NAME, NS_DIR (the container's own directory), NS_ROOT, NS_PID (systemd-nspawn),
# NS_LEADER (the container's PID 1 as the host sees it), NS_LOG (nspawn's and the container's console).

NS_NAME= NS_DIR= NS_ROOT= NS_PID= NS_LEADER= NS_LOG= NSPAWN_WHY=

nspawn_usable() {
  if [ "$(id -u)" -ne 0 ]; then NSPAWN_WHY="booting systemd in a container needs root"; return 1; fi
  if ! command -v systemd-nspawn >/dev/null; then
    NSPAWN_WHY="systemd-nspawn is not installed (package systemd-container; scripts/bootstrap.sh)"
    return 1
  fi
  if [ ! -d /sys/fs/cgroup/systemd ] || [ ! -d /sys/fs/cgroup/unified ]; then
    NSPAWN_WHY="no cgroup v1 name=systemd + cgroup2 'unified' mounts (the recipe is for the hybrid layout)"
    return 1
  fi
  if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
    NSPAWN_WHY="the kernel has no overlay file system"
    return 1
  fi
  return 0
}

# nspawn_boot NAME [HIDDEN_DIR...]: boot and wait until the container's systemd is running (or degraded).
# The host's own nginx, php-fpm, MariaDB and Apache are masked inside so that they neither take ports nor
# confuse what the test sees.
nspawn_boot() {
  local name=$1 d i state=
  shift
  NS_NAME=$name
  NS_DIR=/run/jailbuild-test-nspawn-$name
  NS_ROOT=$NS_DIR/root
  NS_LOG=$NS_DIR/console.log
  mkdir -p "$NS_DIR/up" "$NS_ROOT"
  mount -t tmpfs -o mode=0755 tmpfs "$NS_DIR/up"
  mkdir "$NS_DIR/up/u" "$NS_DIR/up/w"
  for d in "$@"; do
    mkdir -p "$NS_DIR/up/u$(dirname "$d")"
    mknod "$NS_DIR/up/u$d" c 0 0
  done
  mount -t overlay overlay -o "lowerdir=/,upperdir=$NS_DIR/up/u,workdir=$NS_DIR/up/w" "$NS_ROOT"
  for d in nginx php8.2-fpm mariadb mysql apache2 jailbuild-sync jailbuild-sync.timer; do
    case $d in *.*) ;; *) d=$d.service ;; esac
    ln -sf /dev/null "$NS_ROOT/etc/systemd/system/$d"
  done
  mkdir -p "/sys/fs/cgroup/systemd/jbtest-$name" "/sys/fs/cgroup/unified/jbtest-$name"
  # The subshell moves itself into the test's own cgroups (so that nspawn's payload/supervisor cgroups
  # land below them and are removed with them), then becomes systemd-nspawn. stdin from /dev/null and
  # --console=pipe: a passive console hangs PID 1 once its buffer fills.
  (
    echo "$BASHPID" >"/sys/fs/cgroup/systemd/jbtest-$name/cgroup.procs"
    echo "$BASHPID" >"/sys/fs/cgroup/unified/jbtest-$name/cgroup.procs"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn --quiet --register=no --keep-unit --boot \
      -D "$NS_ROOT" -M "jbtest-$name" --console=pipe --private-network \
      --capability=CAP_BPF,CAP_NET_ADMIN --system-call-filter=bpf </dev/null
  ) >"$NS_LOG" 2>&1 &
  NS_PID=$!
  for i in $(seq 100); do
    NS_LEADER=$(pgrep -P "$NS_PID" -x systemd || true)
    [ -n "$NS_LEADER" ] && break
    sleep 0.1
  done
  if [ -z "$NS_LEADER" ]; then
    echo "nspawn_boot: no systemd in the container after 10 s; console:" >&2
    cat "$NS_LOG" >&2
    return 1
  fi
  for i in $(seq 150); do
    state=$(nsenter -t "$NS_LEADER" -a systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) return 0 ;; esac
    sleep 0.2
  done
  echo "nspawn_boot: the container's systemd is '$state' after 30 s; console:" >&2
  cat "$NS_LOG" >&2
  return 1
}

# ns CMD...: run CMD in every namespace of the container (its systemctl, journalctl, files).
ns() { nsenter -t "$NS_LEADER" -a "$@"; }

# ns_net CMD...: run a host binary (curl, ab) in the container's network namespace only.
ns_net() { nsenter -t "$NS_LEADER" -n "$@"; }

# nspawn_stop: shut the container down (systemd's own shutdown, then a kill after 15 s), unmount its
# overlay and tmpfs, and remove the cgroups it left, deepest first. Safe to call twice or before a boot.
nspawn_stop() {
  local i cg
  [ -n "$NS_NAME" ] || return 0
  if [ -n "$NS_PID" ] && kill -0 "$NS_PID" 2>/dev/null; then
    kill -TERM "$NS_PID" 2>/dev/null || true
    for i in $(seq 150); do kill -0 "$NS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NS_PID" 2>/dev/null || true
    wait "$NS_PID" 2>/dev/null || true
  fi
  for cg in "/sys/fs/cgroup/systemd/jbtest-$NS_NAME" "/sys/fs/cgroup/unified/jbtest-$NS_NAME"; do
    [ -d "$cg" ] || continue
    # anything still in there (a process nspawn left) is killed before its cgroup can go
    for i in $(seq 20); do
      [ -z "$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
      find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
      sleep 0.1
    done
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  mountpoint -q "$NS_ROOT" && umount -l "$NS_ROOT"
  mountpoint -q "$NS_DIR/up" && umount -l "$NS_DIR/up"
  rmdir "$NS_ROOT" "$NS_DIR/up" 2>/dev/null || true
  rm -f "$NS_LOG"
  rmdir "$NS_DIR" 2>/dev/null || true
  NS_NAME= NS_PID= NS_LEADER=
}
