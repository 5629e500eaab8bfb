#!/bin/sh
# Install the lbdoctor AppArmor stand-in into a lab host's root directory (see README.md here).
#
#   install-apparmor.sh [--root DIR] [--profile NAME] [--comm NAME] [--pid N]
#
# Writes an audit log with one AppArmor denial (stamped now): the profile may not create an inet
# stream socket, so the service never listens. The record is the one of roddhjav/apparmor.d
# pull request #458 (chronyd, class="net") with the profile, comm and pid put in.
# The kernel has no AppArmor, so "enabled" must be faked inside the running host: this also
# writes DIR/usr/local/sbin/lbdoctor-apparmor-enable, to run *inside* the host
# (lab.py exec HOST -- lbdoctor-apparmor-enable); it mounts a tmpfs over /sys/module of that
# host alone and puts apparmor/parameters/enabled (Y) in it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=/ profile=/usr/sbin/nginx comm=nginx pid=4343
while [ "$#" -gt 0 ]; do
    case "$1" in
        --root) root=$2; shift 2 ;;
        --profile) profile=$2; shift 2 ;;
        --comm) comm=$2; shift 2 ;;
        --pid) pid=$2; shift 2 ;;
        *) echo "install-apparmor.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$pid" in
    ''|*[!0-9]*) echo "install-apparmor.sh: --pid wants a number" >&2; exit 2 ;;
esac

mkdir -p "$root/usr/local/sbin" "$root/var/log/audit"
cat > "$root/usr/local/sbin/lbdoctor-apparmor-enable" <<'SCRIPT'
#!/bin/sh
# lbdoctor lab stand-in: make /sys/module/apparmor/parameters/enabled say Y in this host only.
# Hides the real /sys/module of this host (nothing in the lab reads it but the mac facts).
set -eu
if [ ! -e /sys/module/apparmor/parameters/enabled ]; then
    mount -t tmpfs -o size=64k,mode=0755 lbdoctor-apparmor-standin /sys/module
    mkdir -p /sys/module/apparmor/parameters
    echo Y > /sys/module/apparmor/parameters/enabled
fi
cat /sys/module/apparmor/parameters/enabled
SCRIPT
chmod 0755 "$root/usr/local/sbin/lbdoctor-apparmor-enable"

epoch=$(date +%s)
sed -e "s|@EPOCH@|$epoch.214|g" -e "s|@SERIAL@|$((epoch % 100000 + 3))|g" \
    -e "s|@PROFILE@|$profile|g" -e "s|@COMM@|$comm|g" -e "s|@PID@|$pid|g" \
    "$here/data/audit-apparmor.log.in" >> "$root/var/log/audit/audit.log"
chmod 0600 "$root/var/log/audit/audit.log"
echo "lbdoctor AppArmor stand-in installed in $root: profile $profile ($comm) denied an inet stream socket"
