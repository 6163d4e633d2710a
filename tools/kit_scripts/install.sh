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
"$PYTHON" -m venv "$TARGET/.venv"
"$TARGET/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$KIT/wheels" "@COURSE@"
for item in "$KIT"/notebooks/* "$KIT/data"; do   # never over a learner's own copy
    if [ -e "$item" ] && [ ! -e "$TARGET/${item##*/}" ]; then cp -R "$item" "$TARGET/"; fi
done
cp "$KIT/start.sh" "$TARGET/start.sh"
cd "$TARGET"
status=0
MNIST_TUTORIAL_OFFLINE=1 "$TARGET/.venv/bin/@CHECK_PROGRAM@" @CHECK_ARGS@ || status=$?
if [ "$status" -ne 0 ]; then
    echo "install.sh: the course is installed in $TARGET, but its check failed (exit status $status): do what the" \
        "fix: lines above say, then check again with: cd \"$TARGET\" && .venv/bin/@CHECK_PROGRAM@ @CHECK_ARGS@" >&2
    exit "$status"
fi
echo "Installed. Start the course with: sh \"$TARGET/start.sh\""
