#!/bin/sh
# Starts the workshop's room (docs/room.md: a JupyterHub, each student in a space of their own) on this Linux
# machine with no network, from the kit this script sits in:
#   sudo sh room.sh [FOLDER] [the room's options: --public, --password PASSWORD, --port 8000, --clean, ...]
# installs @COURSE@ with its room (JupyterHub) from the kit's wheels into FOLDER/.venv, copies the kit's proxy (run by
# this machine's Node.js, @NODE_MAJOR@ or newer) and practice copies into FOLDER, then runs `mnist-tutorial room`
# there. FOLDER: /opt/mnist-room as root (each student's account runs its Python), else ~/mnist-room.
set -eu
KIT=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then TARGET=$1; shift
elif [ "$(id -u)" -eq 0 ]; then TARGET=/opt/mnist-room
else TARGET="$HOME/mnist-room"; fi
PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'CHECK'
import sys
found = "%d.%d" % sys.version_info[:2]
if found != "@PYTHON@":
    sys.exit("This kit holds wheels for Python @PYTHON@, and this python3 is " + found + ": run with "
             "PYTHON=python@PYTHON@ sh room.sh, or ask for a kit built with Python " + found + ".")
CHECK
NODE=$(command -v node || command -v nodejs || true)
if [ -z "$NODE" ]; then
    echo "room.sh: the room's proxy runs on Node.js, and this machine has none: apt-get install nodejs" >&2
    exit 1
fi
FOUND=$("$NODE" -e 'process.stdout.write(process.versions.node)')
if [ "${FOUND%%.*}" -lt @NODE_MAJOR@ ]; then
    printf '%s\n' "room.sh: the kit's proxy (@PROXY_VERSION@) needs Node.js @NODE_MAJOR@ or newer, and this" \
        "machine's is $FOUND: install a newer Node.js, or build the kit with --proxy configurable-http-proxy@4" >&2
    exit 1
fi
umask 022   # every student's account must run FOLDER/.venv's Python
mkdir -p -- "$TARGET"
TARGET=$(CDPATH='' cd -- "$TARGET" && pwd)   # absolute from here on
refuse() {   # $1: what is in the way, in words
    printf 'room.sh: %s, and room.sh writes there: move it away, or give room.sh another FOLDER\n' "$1" >&2
    exit 1
}
# Checked before anything is written: cp and venv follow a link. proxy/ and practice/ are the kit's, replaced at
# each start (the students' work is in their own folders), so anything else by those names is refused.
for name in .venv proxy practice; do
    if [ -L "$TARGET/$name" ]; then refuse "$TARGET/$name is a symbolic link"; fi
done
if [ -e "$TARGET/proxy" ] && [ ! -f "$TARGET/@PROXY_LAUNCHER@" ]; then refuse "$TARGET/proxy is not the kit's proxy"; fi
if [ -e "$TARGET/practice" ] && [ ! -f "$TARGET/practice/@MARKER@" ]; then refuse "$TARGET/practice is not the kit's"; fi
if [ ! -x "$TARGET/.venv/bin/python" ]; then "$PYTHON" -m venv "$TARGET/.venv"; fi
"$TARGET/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$KIT/wheels" \
    "@COURSE@[room]"
rm -rf -- "$TARGET/proxy" "$TARGET/practice"
cp -R "$KIT/proxy" "$TARGET/proxy"
chmod 755 "$TARGET/@PROXY_LAUNCHER@"   # a FAT stick keeps no mode
cp -R "$KIT/notebooks" "$TARGET/practice"
cd "$TARGET"
PATH="$TARGET/proxy/bin:$PATH"
export PATH MNIST_TUTORIAL_OFFLINE=1
exec "$TARGET/.venv/bin/python" -m @MODULE@ room --practice "$TARGET/practice" --folder "$TARGET/hub" "$@"
