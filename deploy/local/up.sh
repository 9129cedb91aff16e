#!/usr/bin/env bash
# Brings up the whole IMG system on this Debian machine, as root, idempotently:
# RabbitMQ, a Docker engine, FerretDB (SQLite) as the MongoDB-compatible database, a mail catcher,
# the builder image, then the four services. `--infra-only` stops before the services (for tests).
# Every process it starts has a PID file under $IMG_RUN_DIR; deploy/local/down.sh stops them.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

infra_only=false
for arg in "$@"; do
  case "$arg" in
    --infra-only) infra_only=true ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

export IMG_STATE_DIR=${IMG_STATE_DIR:-/var/lib/img}
export IMG_RUN_DIR=${IMG_RUN_DIR:-/run/img}
export IMG_LOG_DIR=${IMG_LOG_DIR:-/var/log/img}
export IMG_CACHE_DIR=${IMG_CACHE_DIR:-/var/cache/img}
export IMG_DATA_DIR=${IMG_DATA_DIR:-$IMG_STATE_DIR/data}
FERRETDB_VERSION=v1.24.2
mkdir -p "$IMG_STATE_DIR" "$IMG_RUN_DIR" "$IMG_LOG_DIR" "$IMG_CACHE_DIR" "$IMG_DATA_DIR"

say() { printf '[up] %s\n' "$*"; }
die() { printf '[up] error: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port name seconds logfile
  for _ in $(seq "$3"); do port_open "$1" && return 0; sleep 1; done
  die "$2 did not open port $1 within $3 s; see $4"
}
running() { [ -f "$IMG_RUN_DIR/$1.pid" ] && kill -0 "$(cat "$IMG_RUN_DIR/$1.pid")" 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages and starts system services)"

# --- Debian packages -----------------------------------------------------------------------
packages=(rabbitmq-server docker.io mmdebstrap zstd ca-certificates iproute2
          qemu-system-x86 qemu-utils mtools dosfstools e2fsprogs fdisk syslinux syslinux-common isolinux
          xorriso squashfs-tools ovmf chromium docker-compose wrk python3-prometheus-client python3-venv
          qemu-user-static binfmt-support qemu-system-arm qemu-efi-aarch64)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # With their recommended packages (QEMU's firmware and ROMs, mmdebstrap's helpers): the set the tests run with.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$IMG_LOG_DIR/apt.log" 2>&1 \
    || die "apt-get install failed; see $IMG_LOG_DIR/apt.log"
fi
command -v node >/dev/null || die "Node.js 20 is needed (node not found)"
command -v go >/dev/null || die "the Go toolchain is needed to build FerretDB (go not found)"

# --- Node dependencies ---------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing Node dependencies (npm ci)"
  npm ci --no-audit --no-fund >"$IMG_LOG_DIR/npm.log" 2>&1 || die "npm ci failed; see $IMG_LOG_DIR/npm.log"
fi

# --- arm64 builds: user-mode emulation through binfmt_misc ----------------------------------
# An arm64 build runs its programs through the kernel's binfmt_misc registration of qemu-user-static.
# With the F (fix-binary) flag the kernel opens the emulator at registration, so it works inside the
# build's container and its new root, which hold none, and the sandbox needs no privilege for it.
# Registrations do not survive a reboot, and nothing else makes them on a host without systemd:
# this runs every time (update-binfmts mounts binfmt_misc itself when needed).
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
if ! grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || ! grep -qsx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  say "warning: binfmt_misc has no enabled qemu-aarch64 entry with the F flag; arm64 builds will fail (see update-binfmts --display qemu-aarch64)"
fi

# --- Docker engine -------------------------------------------------------------------------
# With user-namespace remapping (userns-remap): a build's root is an unprivileged uid on the host
# (dockerd creates the dockremap user and its /etc/subuid and /etc/subgid ranges itself), so even a
# file that escaped the sandbox would belong to nobody. An engine this script started without it (an
# earlier version) is restarted with it; one started otherwise is left alone, and image-creator then
# refuses to build until it remaps (IMG_REQUIRE_USERNS).
docker_remaps() { docker info --format '{{.SecurityOptions}}' 2>/dev/null | grep -q 'name=userns'; }
if docker info >/dev/null 2>&1 && ! docker_remaps && running dockerd; then
  say "restarting the Docker engine with user-namespace remapping"
  kill "$(cat "$IMG_RUN_DIR/dockerd.pid")"
  for _ in $(seq 60); do running dockerd || break; sleep 1; done
fi
if ! docker info >/dev/null 2>&1; then
  say "starting the Docker engine (user-namespace remapping)"
  nohup dockerd --userns-remap=default --pidfile "$IMG_RUN_DIR/dockerd.pid" >"$IMG_LOG_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "the Docker engine did not start; see $IMG_LOG_DIR/dockerd.log"
fi
docker_remaps || say "warning: the Docker engine does not remap user namespaces; image-creator will refuse to build (see IMG_REQUIRE_USERNS in the README)"
# A build's %post must not reach this host's services (the frontend, and anything that listens on
# all addresses): traffic from the containers' bridge to the host itself is dropped. Their traffic
# to the outside (Debian mirrors, DNS) is forwarded, not delivered here, so it is not affected.
iptables -C INPUT -i docker0 -j DROP 2>/dev/null || iptables -I INPUT -i docker0 -j DROP \
  || die "could not add the firewall rule that keeps build containers away from this host"

# --- RabbitMQ (loopback only: a build's %post must not reach it) -----------------------------
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE=$IMG_STATE_DIR/rabbitmq/mnesia
export RABBITMQ_LOG_BASE=$IMG_LOG_DIR/rabbitmq
export RABBITMQ_CONFIG_FILE=$IMG_STATE_DIR/rabbitmq/rabbitmq.conf
# RabbitMQ closes a consumer's channel when a delivery stays unacked longer than consumer_timeout
# (30 min by default). image-creator holds its delivery for the whole build (IMG_BUILD_TIMEOUT_S,
# 3600 s) and its boot checks (IMG_VERIFY_TIMEOUT_S, 300 s each), and may first wait for an identical
# request's build; the notifier holds its delivery through its SMTP retry window (1800 s). 3 hours
# is above all of that. Raise IMG_RABBITMQ_CONSUMER_TIMEOUT_MS when you raise those.
consumer_timeout_ms=${IMG_RABBITMQ_CONSUMER_TIMEOUT_MS:-10800000}
[[ "$consumer_timeout_ms" =~ ^[0-9]+$ ]] || die "IMG_RABBITMQ_CONSUMER_TIMEOUT_MS must be a number of milliseconds"
mkdir -p "$IMG_STATE_DIR/rabbitmq"
cat >"$RABBITMQ_CONFIG_FILE" <<CONF
# Written by deploy/local/up.sh on every run; set IMG_RABBITMQ_CONSUMER_TIMEOUT_MS rather than editing.
consumer_timeout = $consumer_timeout_ms
CONF
chmod 644 "$RABBITMQ_CONFIG_FILE"
if ! port_open 5672; then
  say "starting RabbitMQ"
  mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  chown -R rabbitmq:rabbitmq "$IMG_STATE_DIR/rabbitmq" "$RABBITMQ_LOG_BASE"
  rabbitmq-server -detached >"$IMG_LOG_DIR/rabbitmq-start.log" 2>&1 || die "rabbitmq-server failed; see $RABBITMQ_LOG_BASE"
  wait_port 5672 RabbitMQ 90 "$RABBITMQ_LOG_BASE"
  rabbitmqctl await_startup --timeout 60 >/dev/null 2>&1 || die "RabbitMQ did not finish starting; see $RABBITMQ_LOG_BASE"
  # The node runs as the rabbitmq user and cannot write the PID file here itself.
  rabbitmqctl eval 'list_to_integer(os:getpid()).' 2>/dev/null | tr -dc '0-9' >"$IMG_RUN_DIR/rabbitmq.pid"
fi
# A node started before this setting (or with another value) takes it now, without a restart; a
# channel reads it when it opens, so the services' next channels have it.
rabbitmqctl eval "application:set_env(rabbit, consumer_timeout, $consumer_timeout_ms)." >/dev/null \
  || die "could not set RabbitMQ's consumer_timeout"
# The dead-letter queue was a classic queue before it became a quorum queue (a classic queue on a lost
# cluster node blocks every reconnect). One left over from then, if empty, is removed here: the
# services declare it again, as a quorum queue.
for vhost in / img-test; do
  rabbitmqctl list_queues -p "$vhost" --silent name type messages 2>/dev/null \
    | awk '$1 == "dead_letter_queue" && $2 == "classic" && $3 == 0 { found = 1 } END { exit !found }' \
    && rabbitmqctl delete_queue -p "$vhost" dead_letter_queue >/dev/null 2>&1 \
    && say "replaced the empty classic dead_letter_queue of virtual host $vhost (it comes back as a quorum queue)"
done
# The tests use a virtual host of their own, so a running stack never takes their messages.
if ! rabbitmqctl list_vhosts --silent 2>/dev/null | grep -qx img-test; then
  rabbitmqctl add_vhost img-test >/dev/null && rabbitmqctl set_permissions -p img-test guest '.*' '.*' '.*' >/dev/null \
    || die "could not create the RabbitMQ virtual host img-test"
fi

# --- pykickstart, for the tests that compare IMG's reading of real kickstarts with it -------------
PYKICKSTART_VERSION=3.78
pykickstart=$IMG_CACHE_DIR/pykickstart
if [ "$(cat "$pykickstart/.img-version" 2>/dev/null)" != "$PYKICKSTART_VERSION" ]; then
  say "installing pykickstart $PYKICKSTART_VERSION from PyPI (once; in $pykickstart)"
  rm -rf "$pykickstart"
  python3 -m venv "$pykickstart" >"$IMG_LOG_DIR/pykickstart.log" 2>&1 \
    && "$pykickstart/bin/pip" install -q "pykickstart==$PYKICKSTART_VERSION" >>"$IMG_LOG_DIR/pykickstart.log" 2>&1 \
    || die "installing pykickstart failed; see $IMG_LOG_DIR/pykickstart.log"
  echo "$PYKICKSTART_VERSION" >"$pykickstart/.img-version"
fi

# --- spdx-tools, for the test that checks the SBOMs with the SPDX project's own validator -------
SPDX_TOOLS_VERSION=0.8.3
spdx_tools=$IMG_CACHE_DIR/spdx-tools
if [ "$(cat "$spdx_tools/.img-version" 2>/dev/null)" != "$SPDX_TOOLS_VERSION" ]; then
  say "installing spdx-tools $SPDX_TOOLS_VERSION from PyPI (once; in $spdx_tools)"
  rm -rf "$spdx_tools"
  python3 -m venv "$spdx_tools" >"$IMG_LOG_DIR/spdx-tools.log" 2>&1 \
    && "$spdx_tools/bin/pip" install -q "spdx-tools==$SPDX_TOOLS_VERSION" >>"$IMG_LOG_DIR/spdx-tools.log" 2>&1 \
    || die "installing spdx-tools failed; see $IMG_LOG_DIR/spdx-tools.log"
  echo "$SPDX_TOOLS_VERSION" >"$spdx_tools/.img-version"
fi

# --- FerretDB with SQLite (loopback only) ----------------------------------------------------
ferretdb=$IMG_CACHE_DIR/ferretdb-$FERRETDB_VERSION
if [ ! -x "$ferretdb" ]; then
  say "building FerretDB $FERRETDB_VERSION with the Go toolchain (once; cached at $ferretdb)"
  # `go install …@version` cannot be used: it asks the module proxy for the version list, which
  # the proxy here refuses. Downloading the exact version works; the build then runs from a copy
  # so the version file its build info check expects can be written.
  export GOFLAGS=-mod=readonly
  dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || die "could not download the FerretDB module"
  src=$(mktemp -d)
  cp -r "$dir/." "$src/" && chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && go build -o "$ferretdb.tmp" ./cmd/ferretdb) >"$IMG_LOG_DIR/ferretdb-build.log" 2>&1 \
    || die "building FerretDB failed; see $IMG_LOG_DIR/ferretdb-build.log"
  mv "$ferretdb.tmp" "$ferretdb"
  rm -rf "$src"
fi
if ! port_open 27017; then
  say "starting FerretDB"
  mkdir -p "$IMG_STATE_DIR/ferretdb"
  nohup "$ferretdb" --handler=sqlite --sqlite-url="file:$IMG_STATE_DIR/ferretdb/" \
    --listen-addr=127.0.0.1:27017 --debug-addr=127.0.0.1:8088 --telemetry=disable --log-level=warn \
    --state-dir="$IMG_STATE_DIR/ferretdb" \
    >"$IMG_LOG_DIR/ferretdb.log" 2>&1 &
  echo $! >"$IMG_RUN_DIR/ferretdb.pid"
  wait_port 27017 FerretDB 30 "$IMG_LOG_DIR/ferretdb.log"
fi

# --- Object store: SeaweedFS's S3 gateway (loopback only), when IMG_STORAGE=s3 ----------------
# With IMG_STORAGE=s3 the services keep images and logs in an S3-compatible object store instead of
# the data directory, as build hosts that share no disk do. SeaweedFS is built once with the Go
# toolchain at the version the module proxy serves (as FerretDB is) and runs as one process: master,
# volume server, filer and S3 gateway, all on loopback. Its credentials are made on the first run
# and kept, root only, in $IMG_STATE_DIR/s3-credentials (IMG_S3_ACCESS_KEY and IMG_S3_SECRET_KEY
# set when running up.sh win); they are never printed. The tests read the same file.
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
export IMG_STORAGE=${IMG_STORAGE:-local}
[[ "$IMG_STORAGE" == local || "$IMG_STORAGE" == s3 ]] || die "IMG_STORAGE must be local or s3"
if [ "$IMG_STORAGE" = s3 ]; then
  weed=$IMG_CACHE_DIR/seaweedfs-$SEAWEEDFS_VERSION
  if [ ! -x "$weed" ]; then
    say "building SeaweedFS $SEAWEEDFS_VERSION with the Go toolchain (once; cached at $weed; takes a while)"
    export GOFLAGS=-mod=readonly
    dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] || die "could not download the SeaweedFS module"
    src=$(mktemp -d)
    cp -r "$dir/." "$src/" && chmod -R u+w "$src"
    (cd "$src" && go build -o "$weed.tmp" ./weed) >"$IMG_LOG_DIR/seaweedfs-build.log" 2>&1 \
      || die "building SeaweedFS failed; see $IMG_LOG_DIR/seaweedfs-build.log"
    mv "$weed.tmp" "$weed"
    rm -rf "$src"
  fi
  s3_file=$IMG_STATE_DIR/s3-credentials
  [ ! -L "$s3_file" ] || die "$s3_file is a symbolic link; remove it and run up.sh again"
  s3_value() { [ -f "$s3_file" ] && sed -n "s/^$1=//p" "$s3_file" | tail -n 1 || true; }
  (
    umask 077
    [ -f "$s3_file" ] || printf '# The object store'"'"'s credentials, made by deploy/local/up.sh. Keep them secret.\n' >"$s3_file"
    chmod 600 "$s3_file"
    [ -n "$(s3_value IMG_S3_ACCESS_KEY)" ] || printf 'IMG_S3_ACCESS_KEY=img-%s\n' "$(head -c 9 /dev/urandom | base64 -w0 | tr '+/' '-_')" >>"$s3_file"
    [ -n "$(s3_value IMG_S3_SECRET_KEY)" ] || printf 'IMG_S3_SECRET_KEY=%s\n' "$(head -c 30 /dev/urandom | base64 -w0 | tr '+/' '-_')" >>"$s3_file"
  )
  IMG_S3_ACCESS_KEY=${IMG_S3_ACCESS_KEY:-$(s3_value IMG_S3_ACCESS_KEY)}
  IMG_S3_SECRET_KEY=${IMG_S3_SECRET_KEY:-$(s3_value IMG_S3_SECRET_KEY)}
  export IMG_S3_ENDPOINT=${IMG_S3_ENDPOINT:-http://127.0.0.1:8333} IMG_S3_ACCESS_KEY IMG_S3_SECRET_KEY
  if ! port_open 8333; then
    say "starting SeaweedFS (S3 on 127.0.0.1:8333)"
    mkdir -p "$IMG_STATE_DIR/seaweedfs/data"
    # Its identity file, root only: the one identity the services use.
    (umask 077; printf '{"identities":[{"name":"img","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
      "$IMG_S3_ACCESS_KEY" "$IMG_S3_SECRET_KEY" >"$IMG_STATE_DIR/seaweedfs/s3.json")
    # Ports of its own (the volume server's default, 8080, is the frontend's); no Iceberg or Lance endpoints.
    nohup "$weed" server -dir="$IMG_STATE_DIR/seaweedfs/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port=9333 -volume.port=8340 -filer -filer.port=8888 -s3 -s3.port=8333 -s3.port.iceberg=0 -s3.port.lance=0 \
      -s3.config="$IMG_STATE_DIR/seaweedfs/s3.json" -master.volumeSizeLimitMB=1024 -volume.max=0 \
      >"$IMG_LOG_DIR/seaweedfs.log" 2>&1 &
    echo $! >"$IMG_RUN_DIR/seaweedfs.pid"
    wait_port 8333 SeaweedFS 60 "$IMG_LOG_DIR/seaweedfs.log"
  fi
  say "object store: $IMG_S3_ENDPOINT (credentials in $s3_file, root only)"
fi

# --- Mail catcher: SMTP on 1025, mails readable on http://127.0.0.1:8025 -----------------------
if ! port_open 1025; then
  say "starting the mail catcher"
  mkdir -p "$IMG_STATE_DIR/mail"
  IMG_MAIL_DIR=$IMG_STATE_DIR/mail nohup node --import tsx deploy/mail-catcher/main.ts >"$IMG_LOG_DIR/mail-catcher.log" 2>&1 &
  echo $! >"$IMG_RUN_DIR/mail-catcher.pid"
  wait_port 1025 "the mail catcher" 30 "$IMG_LOG_DIR/mail-catcher.log"
fi

# --- Operator credentials ------------------------------------------------------------------
# The operator's routes (clear, delete, every job without its token) are always authenticated. The
# first run makes the operator's credentials: user `operator` with a random password (HTTP basic,
# for the browser) and a random bearer token (for scripts), kept readable by root only in
# $IMG_STATE_DIR/operator-credentials as KEY=value lines (so `. FILE` or compose's `.env` read
# them); later runs reuse them. IMG_OPERATOR_USER, _PASSWORD or _TOKEN set when running up.sh win.
# The secrets are never printed, only where they are.
operator_file=$IMG_STATE_DIR/operator-credentials
operator_value() { [ -f "$operator_file" ] && sed -n "s/^$1=//p" "$operator_file" | tail -n 1 || true; }
operator_secret() { head -c 30 /dev/urandom | base64 -w0 | tr '+/' '-_'; } # 240 bits, 40 characters
[ ! -L "$operator_file" ] || die "$operator_file is a symbolic link; remove it and run up.sh again"
(
  umask 077
  if [ ! -f "$operator_file" ]; then
    printf '# The IMG operator'"'"'s credentials, made by deploy/local/up.sh. Keep them secret.\n' >"$operator_file"
    say "made the operator's credentials"
  fi
  chmod 600 "$operator_file"
  [ -n "$(operator_value IMG_OPERATOR_USER)" ] || printf 'IMG_OPERATOR_USER=operator\n' >>"$operator_file"
  [ -n "$(operator_value IMG_OPERATOR_PASSWORD)" ] || printf 'IMG_OPERATOR_PASSWORD=%s\n' "$(operator_secret)" >>"$operator_file"
  [ -n "$(operator_value IMG_OPERATOR_TOKEN)" ] || printf 'IMG_OPERATOR_TOKEN=%s\n' "$(operator_secret)" >>"$operator_file"
)
IMG_OPERATOR_USER=${IMG_OPERATOR_USER:-$(operator_value IMG_OPERATOR_USER)}
IMG_OPERATOR_PASSWORD=${IMG_OPERATOR_PASSWORD:-$(operator_value IMG_OPERATOR_PASSWORD)}
IMG_OPERATOR_TOKEN=${IMG_OPERATOR_TOKEN:-$(operator_value IMG_OPERATOR_TOKEN)}
export IMG_OPERATOR_USER IMG_OPERATOR_PASSWORD IMG_OPERATOR_TOKEN
say "operator credentials (user $IMG_OPERATOR_USER, password, bearer token): $operator_file (root only; \`. $operator_file\` puts them in a shell)"

# --- Job-token secret -----------------------------------------------------------------------
# The key of the jobs' secret tokens (frontend and notifier must share it), made once and kept in
# the state directory, root only. IMG_TOKEN_SECRET set when running up.sh wins. Never printed.
token_secret_file=$IMG_STATE_DIR/token-secret
[ ! -L "$token_secret_file" ] || die "$token_secret_file is a symbolic link; remove it and run up.sh again"
if [ ! -s "$token_secret_file" ]; then
  (umask 077; head -c 48 /dev/urandom | base64 -w0 >"$token_secret_file")
  say "made the job-token secret: $token_secret_file"
fi
chmod 600 "$token_secret_file"
IMG_TOKEN_SECRET=${IMG_TOKEN_SECRET:-$(cat "$token_secret_file")}
export IMG_TOKEN_SECRET

# --- Builder image (mmdebstrap + docker import; no registry) ----------------------------------
bash deploy/builder/build-image.sh >"$IMG_LOG_DIR/builder-image.log" 2>&1 || die "building the builder image failed; see $IMG_LOG_DIR/builder-image.log"
IMG_BUILDER_IMAGE=$(bash deploy/builder/build-image.sh --print-tag)
export IMG_BUILDER_IMAGE
say "builder image: $IMG_BUILDER_IMAGE"

if $infra_only; then
  say "infrastructure is up: amqp://127.0.0.1:5672, mongodb://127.0.0.1:27017, smtp 127.0.0.1:1025 (mail at http://127.0.0.1:8025)"
  exit 0
fi

# --- The four services ----------------------------------------------------------------------
export IMG_PUBLIC_URL=${IMG_PUBLIC_URL:-http://localhost:8080}
# Each service logs `"msg":"ready"` once it is connected to everything it needs and taking work.
# "IMG is up" is said only when all four have, in the log written since they were started here.
declare -A log_from=()
for svc in kickstarter image-creator notifier frontend; do
  if running "$svc"; then say "$svc is running"; continue; fi
  say "starting $svc"
  log_from[$svc]=$(( $(stat -c %s "$IMG_LOG_DIR/$svc.log" 2>/dev/null || echo 0) + 1 ))
  nohup node --import tsx "services/$svc/src/main.ts" >>"$IMG_LOG_DIR/$svc.log" 2>&1 &
  echo $! >"$IMG_RUN_DIR/$svc.pid"
done
for svc in "${!log_from[@]}"; do
  for _ in $(seq 120); do
    tail -c +"${log_from[$svc]}" "$IMG_LOG_DIR/$svc.log" | grep -q '"msg":"ready"' && break
    running "$svc" || die "$svc exited while starting; see $IMG_LOG_DIR/$svc.log"
    sleep 1
  done
  tail -c +"${log_from[$svc]}" "$IMG_LOG_DIR/$svc.log" | grep -q '"msg":"ready"' || die "$svc did not say it is ready within 120 s; see $IMG_LOG_DIR/$svc.log"
  say "$svc is ready"
done
say "IMG is up: $IMG_PUBLIC_URL (logs in $IMG_LOG_DIR; mail at http://127.0.0.1:8025; stop with deploy/local/down.sh)"
