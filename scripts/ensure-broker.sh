#!/usr/bin/env bash
# Makes sure the local RabbitMQ answers on 127.0.0.1:5672, starting it when it is installed.
set -euo pipefail
reachable() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
reachable && exit 0
if ! command -v rabbitmq-server >/dev/null; then
  echo "RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed" >&2
  exit 1
fi
rabbitmq-server -detached
for _ in $(seq 1 120); do reachable && exit 0; sleep 0.5; done
echo "rabbitmq-server did not start listening on 127.0.0.1:5672 within 60s" >&2
exit 1
