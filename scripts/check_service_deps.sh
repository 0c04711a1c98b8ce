#!/usr/bin/env bash
# Each service alone: `uv sync --package chuishao-<service>` into a fresh virtualenv (what
# its Docker image holds), then import every module of the service there. A module that
# needs a package only a neighbour declares fails here, as it would in its container.
#   scripts/check_service_deps.sh [service ...]   (default: all seven)
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
services=("$@")
[ ${#services[@]} -eq 0 ] && services=(intake router sla notify points supervision console)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for service in "${services[@]}"; do
    env="$work/$service"
    if ! UV_PROJECT_ENVIRONMENT="$env" "$UV" sync --locked --no-dev --no-editable --quiet \
        --package "chuishao-$service" >"$work/$service.log" 2>&1; then
        echo "FAIL $service: uv sync"; cat "$work/$service.log"; failed=1; continue
    fi
    if "$env/bin/python" - "$service" <<'PY'
import importlib
import pkgutil
import sys

package = importlib.import_module(f"chuishao.{sys.argv[1]}")
broken = []
for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
    try:
        importlib.import_module(module.name)
    except ImportError as error:  # a missing dependency, not a bug in the module
        broken.append(f"{module.name}: {error}")
if broken:
    print("\n".join(broken))
sys.exit(1 if broken else 0)
PY
    then
        echo "ok   $service ($(ls "$env"/lib/python3*/site-packages | wc -l) entries installed)"
    else
        echo "FAIL $service: a module imports a package its pyproject does not declare"
        failed=1
    fi
done
exit $failed
