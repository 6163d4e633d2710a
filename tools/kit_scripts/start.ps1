# Opens JupyterLab on the course in the folder this script sits in (install.ps1 put it there), with the room
# setting: every notebook uses the embedded sample and nothing touches the network.
#   powershell -ExecutionPolicy Bypass -File start.ps1 [JupyterLab's own options, e.g. --port 8890]
$ErrorActionPreference = "Stop"
$env:MNIST_TUTORIAL_SOURCE = "sample"
$env:MNIST_TUTORIAL_OFFLINE = "1"
Set-Location -LiteralPath $PSScriptRoot
& (Join-Path $PSScriptRoot ".venv\Scripts\python.exe") -m jupyterlab @args
exit $LASTEXITCODE
