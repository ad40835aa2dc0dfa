#!/usr/bin/env bash
# `make deploy-test`: deploy/compose.yaml end to end on this machine, with nothing from an image
# registry and no Docker network.
#
# 1. Installs Debian's docker.io, docker-compose and debootstrap if missing, and starts a dockerd
#    of its own (no bridge, no iptables; data, state and socket in a temporary directory).
# 2. Builds debian:bookworm-slim with debootstrap from Debian's mirror, local stand-ins for
#    postgis/postgis:15-3.4 and redis:7 from Debian's packages (deploy/standins/), and the
#    Fixative image from the repository's Dockerfile.
# 3. Runs tests/deploy/test_compose_stack.py: the stack on the host's network at free loopback
#    ports, the demo loaded, a worker container killed mid-build, caveclient against the API.
# 4. Always (trap): removes every container, volume and image, stops dockerd, deletes the
#    temporary directory; prints the timings.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env "$0" "$@"  # dockerd, and the test reads containers' /proc entries
fi
cd "$(dirname "$0")/.."
ROOT="$PWD"
STARTED=$(date +%s)
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
COMPOSE=/usr/bin/docker-compose
MIRROR=http://deb.debian.org/debian
WORK="$(mktemp -d /tmp/fixative-deploy-test.XXXXXX)"
TIMINGS="$WORK/timings.txt"
export DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_BUILDKIT=0
: >"$TIMINGS"

say() { echo "deploy-test: $*"; }
timing() { say "$1: $2"; echo "deploy-test: $1: $2" >>"$TIMINGS"; }

install_missing() {
  local missing=() p
  for p in docker.io docker-compose debootstrap; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  # the packages' own docker service must not start (it would make the docker0 bridge)
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  [ -z "$policy" ] || rm -f "$policy"
}

dockerd_pid() { cat "$WORK/dockerd.pid" 2>/dev/null || true; }

stop_dockerd() {
  local pid
  pid="$(dockerd_pid)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
}

start_dockerd() {  # $1: storage driver
  setsid "$DOCKERD" --host "$DOCKER_HOST" --data-root "$WORK/docker" --exec-root "$WORK/exec" \
    --pidfile "$WORK/dockerd.pid" --storage-driver "$1" --bridge=none --iptables=false \
    --ip6tables=false --ip-forward=false --ip-masq=false >>"$WORK/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if "$DOCKER" info >/dev/null 2>&1; then
      [ "$("$DOCKER" info --format '{{.Driver}}')" = "$1" ] && return 0
      break
    fi
    kill -0 $! 2>/dev/null || break
    sleep 1
  done
  stop_dockerd
  return 1
}

cleanup() {
  local status=$?
  set +e
  if [ -S "$WORK/docker.sock" ] && "$DOCKER" info >/dev/null 2>&1; then
    if [ "$status" -ne 0 ] && [ -s "$WORK/compose.log" ]; then
      say "the stack's last log lines:"; tail -n 60 "$WORK/compose.log"
    fi
    for _ in 1 2 3 4 5; do  # a build cut short may still be removing its container
      "$DOCKER" ps -aq | xargs -r "$DOCKER" rm -f >/dev/null 2>&1
      "$DOCKER" volume ls -q | xargs -r "$DOCKER" volume rm -f >/dev/null 2>&1
      "$DOCKER" image prune --all --force >/dev/null 2>&1
      [ -z "$("$DOCKER" ps -aq)$("$DOCKER" image ls -aq)" ] && break
      sleep 2
    done
    say "left in dockerd: $("$DOCKER" ps -aq | wc -l) containers," \
      "$("$DOCKER" volume ls -q | wc -l) volumes, $("$DOCKER" image ls -aq | wc -l) images"
  fi
  stop_dockerd
  # mounts dockerd left behind (it unmounts its own on a clean stop), then the directory
  findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | xargs -r umount -l 2>/dev/null
  local left
  left="$(pgrep -f "$WORK/" || true)"  # processes started from this run's directory only
  if [ -n "$left" ]; then
    say "stopping leftover processes $left"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null
  fi
  echo "deploy-test: whole test wall time: $(($(date +%s) - STARTED)) s" >>"$TIMINGS"
  echo "---- deploy-test $([ "$status" -eq 0 ] && echo passed || echo FAILED) ----"
  cat "$TIMINGS"
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_missing
if start_dockerd overlay2; then
  timing "dockerd storage driver" overlay2
else
  say "overlay2 does not work here; falling back to vfs (slower, more disk)"
  start_dockerd vfs || { tail -n 40 "$WORK/dockerd.log"; exit 1; }
  timing "dockerd storage driver" vfs
fi
networks="$("$DOCKER" network ls --format '{{.Name}}' | sort | tr '\n' ' ')"
[ "$networks" = "host none " ] || { say "unexpected Docker networks: $networks"; exit 1; }

# debian:bookworm-slim, as the official image is made: minbase, no docs, man pages or caches
t=$(date +%s)
rootfs="$WORK/rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK/debootstrap.log"; exit 1; }
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $MIRROR-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# This machine's own trust anchors (e.g. a TLS-inspecting proxy's CA): the certificates its
# bundle holds beyond Debian's, where ca-certificates in an image picks them up
mkdir -p "$rootfs/usr/local/share/ca-certificates"
python3 - "$rootfs/usr/local/share/ca-certificates" <<'EOF'
import glob, re, sys
pem = r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----"
def certs(path):
    try:
        return re.findall(pem, open(path).read(), re.S)
    except OSError:
        return []
debian = {"".join(c.split()) for f in glob.glob("/usr/share/ca-certificates/**/*.crt", recursive=True) for c in certs(f)}
local = [c for c in certs("/etc/ssl/certs/ca-certificates.crt") if "".join(c.split()) not in debian]
for i, cert in enumerate(local):
    open(f"{sys.argv[1]}/local-{i}.crt", "w").write(cert + "\n")
EOF
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/apt/* \
  "$rootfs"/var/log/*.log
tar -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
rm -rf "$rootfs"
timing "base image debian:bookworm-slim (debootstrap + import)" "$(($(date +%s) - t)) s"

build() {  # $1: tag, $2: context
  local t
  t=$(date +%s)
  "$DOCKER" build --force-rm --network host --tag "$1" "$2" >"$WORK/build-${1//[\/:]/_}.log" 2>&1 \
    || { tail -n 40 "$WORK/build-${1//[\/:]/_}.log"; exit 1; }
  timing "image build $1" "$(($(date +%s) - t)) s"
}
build redis:7 deploy/standins/redis
build postgis/postgis:15-3.4 deploy/standins/postgis
build fixative:latest .
"$DOCKER" image ls --filter dangling=false --format '{{.Repository}}:{{.Tag}} {{.Size}}' | sort \
  | while read -r name size; do timing "image size $name" "$size"; done

# free loopback ports for PostgreSQL, Redis and the API (the host's own use 5432 and 6379)
read -r DT_DB_PORT DT_REDIS_PORT DT_API_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
POSTGRES_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
export DT_DB_PORT DT_REDIS_PORT DT_API_PORT POSTGRES_PASSWORD
export DT_VISIBILITY_TIMEOUT=60 DT_DOCKER="$DOCKER" DT_DOCKER_COMPOSE="$COMPOSE"
export DT_LOGS="$WORK/compose.log" DT_TIMINGS="$TIMINGS" FIXATIVE_DEPLOY_TEST=1
say "ports: PostgreSQL $DT_DB_PORT, Redis $DT_REDIS_PORT, API $DT_API_PORT (127.0.0.1)"

"$ROOT/.venv/bin/pytest" tests/deploy/test_compose_stack.py -p no:cacheprovider -s -v

left="$("$DOCKER" ps -aq | wc -l) $("$DOCKER" volume ls -q | wc -l)"
networks="$("$DOCKER" network ls --format '{{.Name}}' | sort | tr '\n' ' ')"
[ "$left" = "0 0" ] && [ "$networks" = "host none " ] \
  || { say "the stack left containers/volumes ($left) or networks ($networks)"; exit 1; }
say "passed"
