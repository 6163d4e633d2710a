#!/bin/sh
# Opens JupyterLab on the course in the folder this script sits in (install.sh put it there), with the room
# setting: every notebook uses the embedded sample and nothing touches the network.
#   sh start.sh [JupyterLab's own options, e.g. --port 8890 or --no-browser]
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
cd "$HERE"
export MNIST_TUTORIAL_SOURCE=sample MNIST_TUTORIAL_OFFLINE=1
if [ "$(id -u)" -eq 0 ]; then set -- --allow-root "$@"; fi   # as root (containers, some classroom images)
exec "$HERE/.venv/bin/python" -m jupyterlab "$@"
