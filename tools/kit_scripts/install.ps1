# Sets up the course on this Windows computer with no network, from the kit this script sits in:
#   powershell -ExecutionPolicy Bypass -File install.ps1 [FOLDER]     (default FOLDER: ~\mnist-course)
# makes FOLDER\.venv, installs @COURSE@ from the kit's wheels, copies the notebooks and data, then runs the pre-flight.
$ErrorActionPreference = "Stop"
$Kit = $PSScriptRoot
$Target = if ($args.Count -gt 0) { $args[0] } else { Join-Path $HOME "mnist-course" }
$Python = if ($env:PYTHON) { $env:PYTHON } else { "py -@PYTHON@" }
$Found = & cmd /c "$Python -c ""import sys; print('%d.%d' % sys.version_info[:2])"""
if ($Found -ne "@PYTHON@") {
    throw "This kit holds wheels for Python @PYTHON@, and $Python is $Found: install Python @PYTHON@ from python.org, or ask for a kit built with $Found."
}
New-Item -ItemType Directory -Force -Path $Target | Out-Null
& cmd /c "$Python -m venv ""$Target\.venv"""
& "$Target\.venv\Scripts\python.exe" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$Kit\wheels" "@COURSE@"
if ($LASTEXITCODE -ne 0) { throw "pip could not install the course from $Kit\wheels" }
if (Test-Path "$Kit\notebooks") { Get-ChildItem "$Kit\notebooks" | ForEach-Object { $to = Join-Path $Target $_.Name; if (-not (Test-Path $to)) { Copy-Item $_.FullName $to -Recurse } } }
if ((Test-Path "$Kit\data") -and -not (Test-Path "$Target\data")) { Copy-Item "$Kit\data" "$Target\data" -Recurse }
Set-Location $Target
$env:MNIST_TUTORIAL_OFFLINE = "1"
& "$Target\.venv\Scripts\@CHECK_PROGRAM@.exe" @CHECK_ARGS@
Write-Output "Installed. Start the course with: cd `"$Target`"; .venv\Scripts\jupyter lab"
