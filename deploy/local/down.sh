#!/usr/bin/env bash
# Stops what deploy/local/up.sh started, by the PID files it wrote. Data stays in $IMG_STATE_DIR.
set -uo pipefail
IMG_RUN_DIR=${IMG_RUN_DIR:-/run/img}
stop() { # name
  local f="$IMG_RUN_DIR/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    echo "[down] stopping $1 (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$f"
}
for svc in frontend notifier image-creator kickstarter mail-catcher ferretdb seaweedfs; do stop "$svc"; done
if [ -f "$IMG_RUN_DIR/rabbitmq.pid" ]; then
  echo "[down] stopping RabbitMQ"
  RABBITMQ_NODENAME=rabbit@localhost rabbitmqctl stop >/dev/null 2>&1 || stop rabbitmq
  rm -f "$IMG_RUN_DIR/rabbitmq.pid"
fi
stop dockerd
