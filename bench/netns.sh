#!/usr/bin/env bash
# Run a command in a private network namespace holding only loopback, as `make test` does for the tests:
# benchmark media never touches the machine's real addresses. aioice skips 127.0.0.1 when it gathers ICE
# candidates, so the namespace also gets 127.0.0.2. Needs root (or unprivileged user namespaces: -r).
#
#   bench/netns.sh .venv/bin/python -m bench.forwarding --counts 1,4,8,16 --out bench/results/x.json
set -euo pipefail
if [ "$#" -eq 0 ]; then
    echo "usage: bench/netns.sh COMMAND [ARGS...]" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then unshare=(unshare -n); else unshare=(unshare -rn); fi
exec "${unshare[@]}" bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$@"' netns "$@"
