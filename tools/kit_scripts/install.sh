#!/bin/sh
# Sets up the course on this computer with no network, from the kit this script sits in:
#   sh install.sh [FOLDER]      (default FOLDER: ~/mnist-course; set PYTHON to pick another python3)
# makes FOLDER/.venv, installs @COURSE@ from the kit's wheels, copies the notebooks, the data and start.sh, then runs
# the pre-flight; exits with its status. A relative FOLDER is taken from the current folder, once, at the start.
set -eu
KIT=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
TARGET=${1:-"$HOME/mnist-course"}
PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'CHECK'
import sys
found = "%d.%d" % sys.version_info[:2]
if found != "@PYTHON@":
    sys.exit("This kit holds wheels for Python @PYTHON@, and this python3 is " + found + ": run with "
             "PYTHON=python@PYTHON@ sh install.sh, or ask for a kit built with Python " + found + ".")
CHECK
mkdir -p -- "$TARGET"
TARGET=$(CDPATH='' cd -- "$TARGET" && pwd)   # absolute from here on
refuse() {   # $1: what is in the way, in words
    printf 'install.sh: %s, and install.sh writes there: move it away, or give install.sh another FOLDER\n' "$1" >&2
    exit 1
}
# Checked before anything is written: cp and venv follow a link, even one that points nowhere yet.
for item in "$KIT"/notebooks/* data .venv start.sh; do
    if [ -L "$TARGET/${item##*/}" ]; then refuse "$TARGET/${item##*/} is a symbolic link"; fi
done
if [ -e "$TARGET/start.sh" ] && [ ! -f "$TARGET/start.sh" ]; then refuse "$TARGET/start.sh is not a file"; fi
"$PYTHON" -m venv "$TARGET/.venv"
"$TARGET/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$KIT/wheels" "@COURSE@"
quoted() {   # $1 as one word that sh takes literally, for the commands printed below
    "$TARGET/.venv/bin/python" -c 'import shlex, sys; print(shlex.quote(sys.argv[1]))' "$1"
}
for item in "$KIT"/notebooks/* "$KIT/data"; do   # never over a learner's own copy
    if [ -e "$item" ] && [ ! -e "$TARGET/${item##*/}" ]; then cp -R "$item" "$TARGET/"; fi
done
cp "$KIT/start.sh" "$TARGET/start.sh"
cd "$TARGET"
status=0
# Through python: pip's script starts with an `exec "FOLDER/.venv/bin/python"` line for sh, which would run a
# $(...) in FOLDER's name; python reads that line as a string and skips it.
MNIST_TUTORIAL_OFFLINE=1 "$TARGET/.venv/bin/python" "$TARGET/.venv/bin/@CHECK_PROGRAM@" @CHECK_ARGS@ || status=$?
if [ "$status" -ne 0 ]; then
    printf '%s %s\n' "install.sh: the course is installed in $TARGET, but its check failed (exit status $status): do what the" \
        "fix: lines above say, then check again with: cd $(quoted "$TARGET") && .venv/bin/python .venv/bin/@CHECK_PROGRAM@ @CHECK_ARGS@" >&2
    exit "$status"
fi
printf '%s\n' "Installed. Start the course with: sh $(quoted "$TARGET/start.sh")"
