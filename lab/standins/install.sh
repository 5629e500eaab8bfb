#!/bin/sh
# Install the lbdoctor SELinux stand-ins into a lab host's root directory (see README.md here).
#
#   install.sh [--root DIR] [--side lb|backend] [--port N] [--comm NAME] [--domain TYPE]
#              [--exe PATH] [--pid N] [--type PORT_TYPE] [--label-local]
#
# Puts getenforce, sestatus, semanage, getsebool and ausearch into DIR/usr/local/sbin, their data
# into DIR/usr/local/share/lbdoctor-standins and an audit log with one blocking AVC (stamped now)
# into DIR/var/log/audit/audit.log. Without --type the port type is the one the captured
# `semanage port -l` gives the port (narrowest range); --label-local also records it as a local
# customisation (what `semanage port -a` would have done).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=/ side=lb port=8081 comm="" domain="" exe="" pid=4242 type="" label_local=no
while [ "$#" -gt 0 ]; do
    case "$1" in
        --root) root=$2; shift 2 ;;
        --side) side=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --comm) comm=$2; shift 2 ;;
        --domain) domain=$2; shift 2 ;;
        --exe) exe=$2; shift 2 ;;
        --pid) pid=$2; shift 2 ;;
        --type) type=$2; shift 2 ;;
        --label-local) label_local=yes; shift ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$side" in
    lb) : "${comm:=haproxy}" "${domain:=haproxy_t}" "${exe:=/usr/sbin/haproxy}" ;;
    backend) : "${comm:=httpd}" "${domain:=httpd_t}" "${exe:=/usr/sbin/httpd}" ;;
    *) echo "install.sh: --side is lb or backend" >&2; exit 2 ;;
esac
case "$port" in
    ''|*[!0-9]*) echo "install.sh: --port wants a number" >&2; exit 2 ;;
esac

share=$root/usr/local/share/lbdoctor-standins
mkdir -p "$root/usr/local/sbin" "$share" "$root/var/log/audit"
for tool in getenforce sestatus semanage getsebool ausearch; do
    cp "$here/bin/$tool" "$root/usr/local/sbin/$tool"
    chmod 0755 "$root/usr/local/sbin/$tool"
done
for data in getenforce.out sestatus.out semanage-port-l-n.out booleans; do
    cp "$here/data/$data" "$share/$data"
done

if [ -z "$type" ]; then
    type=$(awk -v port="$port" '
        $2 == "tcp" {
            line = $0; sub(/^[^ ]+ +tcp +/, "", line); n = split(line, items, /, */)
            for (i = 1; i <= n; i++) {
                lo = items[i]; hi = items[i]
                if (index(items[i], "-")) { split(items[i], r, "-"); lo = r[1]; hi = r[2] }
                if (port + 0 >= lo + 0 && port + 0 <= hi + 0 && (best == "" || hi - lo < width)) {
                    best = $1; width = hi - lo
                }
            }
        }
        END { print best }' "$share/semanage-port-l-n.out")
fi
: > "$share/semanage-local"
if [ "$label_local" = yes ]; then
    printf '%-30s %-8s %s\n' "$type" tcp "$port" > "$share/semanage-local"
fi

epoch=$(date +%s)
sed -e "s|@EPOCH0@|$((epoch - 5)).102|g" -e "s|@SERIAL0@|$((epoch % 100000))|g" \
    -e "s|@EPOCH@|$epoch.590|g" -e "s|@SERIAL@|$((epoch % 100000 + 1))|g" \
    -e "s|@PID@|$pid|g" -e "s|@COMM@|$comm|g" -e "s|@DOMAIN@|$domain|g" -e "s|@EXE@|$exe|g" \
    -e "s|@PORT@|$port|g" -e "s|@TYPE@|$type|g" \
    "$here/data/audit-$side.log.in" > "$root/var/log/audit/audit.log"
chmod 0600 "$root/var/log/audit/audit.log"
echo "lbdoctor stand-ins installed in $root: $side side, $comm ($domain) denied tcp/$port ($type)"
