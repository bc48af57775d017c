#!/usr/bin/env bash
# Installs what DealWatch needs from the system package manager, only when it is missing:
# Maven (fetches Elasticsearch), a JDK >= 21 (runs it) and Chromium (browser tests).
set -euo pipefail

need=()
command -v mvn >/dev/null 2>&1 || need+=(maven)
have_jdk=no
for j in "${ES_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
  [ -n "$j" ] && [ -x "$j/bin/java" ] || continue
  v=$("$j/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] && [ "$v" -ge 21 ] && have_jdk=yes && break
done
[ "$have_jdk" = yes ] || need+=(openjdk-21-jdk-headless)
[ -x /usr/bin/chromium ] || need+=(chromium)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "DealWatch needs these system packages: ${need[*]} — install them (sudo apt-get install ${need[*]}) and rerun." >&2
  # Chromium is only needed by the browser tests, which skip without it.
  case " ${need[*]} " in *" maven "*|*" openjdk-21-jdk-headless "*) exit 1;; esac
  exit 0
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
