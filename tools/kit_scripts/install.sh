#!/bin/sh
# Sets up the course on this computer with no network, from the kit this script sits in:
#   sh install.sh [FOLDER]      (default FOLDER: ~/mnist-course; set PYTHON to pick another python3)
# makes FOLDER/.venv, installs @COURSE@ from the kit's wheels, copies the notebooks and data, then runs the pre-flight.
set -eu
KIT=$(cd "$(dirname "$0")" && pwd)
TARGET=${1:-"$HOME/mnist-course"}
PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'CHECK'
import sys
found = "%d.%d" % sys.version_info[:2]
if found != "@PYTHON@":
    sys.exit("This kit holds wheels for Python @PYTHON@, and this python3 is " + found + ": run with "
             "PYTHON=python@PYTHON@ sh install.sh, or ask for a kit built with Python " + found + ".")
CHECK
mkdir -p "$TARGET"
"$PYTHON" -m venv "$TARGET/.venv"
"$TARGET/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$KIT/wheels" "@COURSE@"
for item in "$KIT"/notebooks/* "$KIT/data"; do   # never over a learner's own copy
    if [ -e "$item" ] && [ ! -e "$TARGET/${item##*/}" ]; then cp -R "$item" "$TARGET/"; fi
done
cd "$TARGET"
MNIST_TUTORIAL_OFFLINE=1 "$TARGET/.venv/bin/@CHECK_PROGRAM@" @CHECK_ARGS@
echo "Installed. Start the course with: cd \"$TARGET\" && .venv/bin/jupyter lab"
