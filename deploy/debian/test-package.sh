#!/usr/bin/env bash
# Builds the Debian package, installs it with dpkg, checks its configuration, starts the
# packaged binary as its systemd unit would (its ExecStartPre and ExecStart, as its
# User), checks that it serves and keeps its state in /var/lib/harbinger, stops it, and
# purges the package: nothing of it may remain. Needs root (or sudo) and cargo-deb
# (installed when missing). CI runs it; `PROFILE=release` packages an optimised binary
# (the default, `dev`, reuses the test build).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/harbinger/target}"
profile="${PROFILE:-dev}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
fail() { echo "test-package: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null || cargo install cargo-deb --version 3.8.0 --locked
deb=$(cargo deb --locked --profile "$profile" | tail -1)
[ -f "$deb" ] || fail "cargo deb wrote no package (said: $deb)"
echo "built $deb ($(du -h "$deb" | cut -f1))"

"${as_root[@]}" dpkg -i "$deb"
trap '"${as_root[@]}" dpkg --purge harbinger >/dev/null 2>&1 || true' EXIT
getent passwd harbinger >/dev/null || fail "no harbinger user"
[ "$(stat -c %U /var/lib/harbinger)" = harbinger ] || fail "/var/lib/harbinger is not harbinger's"
unit=/lib/systemd/system/harbinger.service
[ -f "$unit" ] || fail "no unit at $unit"
/usr/bin/harbinger --version
/usr/bin/harbinger check --config /etc/harbinger/harbinger.yml

# As the unit would: its commands, as its user.
user=$(sed -n 's/^User=//p' "$unit")
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
"${as_root[@]}" runuser -u "$user" -- $pre
# setpriv execs the command itself, so that $! is harbinger and `wait` its exit status.
"${as_root[@]}" setpriv --reuid="$user" --regid="$user" --init-groups $start &
server=$!
for _ in $(seq 100); do
    curl -fsS http://127.0.0.1:9799/-/ready >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS http://127.0.0.1:9799/-/ready || fail "the packaged harbinger did not become ready"
# Read whole, then searched: `curl | grep -q` fails under pipefail when grep stops reading
# before curl has written the whole page.
metrics=$(curl -fsS http://127.0.0.1:9799/metrics) || fail "no /metrics"
grep -q '^harbinger_build_info' <<<"$metrics" || fail "no harbinger_build_info in /metrics"
[ "$(stat -c %U /var/lib/harbinger/outbox.redb)" = harbinger ] || fail "the outbox is not in /var/lib/harbinger, or not harbinger's"
"${as_root[@]}" kill -TERM "$server" 2>/dev/null || kill -TERM "$server"
wait "$server" || fail "harbinger did not stop cleanly on SIGTERM"

"${as_root[@]}" dpkg --purge harbinger
trap - EXIT
for path in /usr/bin/harbinger /etc/harbinger /var/lib/harbinger /usr/share/harbinger "$unit"; do
    [ ! -e "$path" ] || fail "$path remains after purge"
done
! getent passwd harbinger >/dev/null || fail "the harbinger user remains after purge"
echo "package installed, served, stopped and purged cleanly"
