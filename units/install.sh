#!/usr/bin/env bash
# Install thar's systemd units.
#
#   units/install.sh [--bindir DIR] [--unitdir DIR] [--variant NAME_OR_DIR] [--replace-os-release]
#                    [--dry-run] DESTDIR
#
# A wrapper around `thar-install-units --root DESTDIR` (thar/install_units.py), which copies
# every unit of this directory to DESTDIR/UNITDIR (default /usr/lib/systemd/system), rewrites
# the /usr/bin/ of thar's programs to BINDIR (default /usr/bin; give the bin directory of the
# virtualenv thar is installed in), and enables preconfigured.target statically (a link in
# UNITDIR/multi-user.target.wants/); with --variant it makes DESTDIR a host of that variant.
# DESTDIR is / on the host itself, or an image root. It runs
# the thar this directory belongs to (a checkout's, or an installed package's) with $PYTHON
# (default python3). See units/README.md.
set -euo pipefail

usage() {
    echo "usage: units/install.sh [--bindir DIR] [--unitdir DIR] [--variant NAME_OR_DIR]" \
        "[--replace-os-release] [--dry-run] DESTDIR" >&2
    exit 2
}

options=()
destdir=
while [ $# -gt 0 ]; do
    case "$1" in
        --bindir|--unitdir|--variant) [ $# -ge 2 ] || usage; options+=("$1" "$2"); shift 2 ;;
        --replace-os-release|--dry-run) options+=("$1"); shift ;;
        -h|--help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [ -z "$destdir" ] || usage; destdir="$1"; shift ;;
    esac
done
[ -n "$destdir" ] || usage

# The folder holding the package `thar` this directory is part of: a checkout's root (units/
# beside thar/) or site-packages (thar/units/).
here="$(cd "$(dirname "$0")" && pwd -P)"
up="$(dirname "$here")"
if [ -f "$up/thar/__init__.py" ]; then
    path="$up"
elif [ -f "$up/__init__.py" ]; then
    path="$(dirname "$up")"
else
    echo "units/install.sh: no thar package beside $here" >&2
    exit 1
fi
PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python3}" -m thar.install_units \
    --root "$destdir" ${options[@]+"${options[@]}"}
