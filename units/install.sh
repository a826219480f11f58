#!/usr/bin/env bash
# Install thar's systemd units.
#
#   units/install.sh [--bindir DIR] [--unitdir DIR] DESTDIR
#
# Copies every unit of this directory to DESTDIR/UNITDIR (default /usr/lib/systemd/system),
# rewrites the /usr/bin/ of thar's programs to BINDIR (default /usr/bin; give the bin
# directory of the virtualenv thar is installed in), and enables preconfigured.target
# statically (a link in UNITDIR/multi-user.target.wants/). DESTDIR is / on the host itself,
# or an image root. See units/README.md.
set -euo pipefail

usage() {
    echo "usage: units/install.sh [--bindir DIR] [--unitdir DIR] DESTDIR" >&2
    exit 2
}

bindir=/usr/bin
unitdir=/usr/lib/systemd/system
destdir=
while [ $# -gt 0 ]; do
    case "$1" in
        --bindir) [ $# -ge 2 ] || usage; bindir="$2"; shift 2 ;;
        --unitdir) [ $# -ge 2 ] || usage; unitdir="$2"; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [ -z "$destdir" ] || usage; destdir="$1"; shift ;;
    esac
done
[ -n "$destdir" ] || usage
case "$bindir" in /*) ;; *) echo "--bindir must be an absolute path: $bindir" >&2; exit 2 ;; esac
case "$unitdir" in /*) ;; *) echo "--unitdir must be an absolute path: $unitdir" >&2; exit 2 ;; esac

src="$(cd "$(dirname "$0")" && pwd)"
target="${destdir%/}$unitdir"
mkdir -p "$target/multi-user.target.wants"
# thar's programs; any other /usr/bin/ path in a unit is left alone.
programs='migrator|storewolf|apiserver|early-boot-config|sundog|settings-committer|thar-be-settings'
for unit in "$src"/*.service "$src"/*.socket "$src"/*.target; do
    sed -E "s#/usr/bin/($programs)([[:space:]]|\$)#${bindir%/}/\\1\\2#g" "$unit" >"$target/$(basename "$unit")"
    chmod 0644 "$target/$(basename "$unit")"
    echo "installed $target/$(basename "$unit")"
done
ln -sfn ../preconfigured.target "$target/multi-user.target.wants/preconfigured.target"
echo "enabled preconfigured.target (multi-user.target.wants)"
