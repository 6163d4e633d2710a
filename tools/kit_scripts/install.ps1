# Sets up the course on this Windows computer with no network, from the kit this script sits in:
#   powershell -ExecutionPolicy Bypass -File install.ps1 [FOLDER]     (default FOLDER: ~\mnist-course)
# makes FOLDER\.venv, installs @COURSE@ from the kit's wheels, copies the notebooks, the data and start.ps1, then runs
# the pre-flight; exits with its status. A relative FOLDER is taken from the current folder, once, at the start.
$ErrorActionPreference = "Stop"
$Kit = $PSScriptRoot
$Target = if ($args.Count -gt 0) { $args[0] } else { Join-Path $HOME "mnist-course" }
$Python = if ($env:PYTHON) { $env:PYTHON } else { "py -@PYTHON@" }
# PYTHON is a program's path (spaces allowed), or a command with arguments such as "py -3.12".
if (Test-Path -LiteralPath $Python) { $PythonProgram = $Python; $PythonArgs = @() }
else { $Words = @($Python -split " " | Where-Object { $_ }); $PythonProgram = $Words[0]; $PythonArgs = @($Words | Select-Object -Skip 1) }
$Found = & $PythonProgram @PythonArgs -c "import sys; print('%d.%d' % sys.version_info[:2])"
if ($Found -ne "@PYTHON@") {
    throw "This kit holds wheels for Python @PYTHON@, and ${Python} is ${Found}: install Python @PYTHON@ from python.org, or ask for a kit built with $Found."
}
New-Item -ItemType Directory -Force -Path $Target | Out-Null
$Target = (Resolve-Path -LiteralPath $Target).ProviderPath   # absolute from here on
function Stop-Install([string]$What) {
    [Console]::Error.WriteLine("install.ps1: $What, and install.ps1 writes there: move it away, or give install.ps1 another FOLDER")
    exit 1
}
# Checked before anything is written: Copy-Item and venv follow a link, even one that points nowhere yet.
$Names = @(".venv", "start.ps1", "data")
$Notebooks = Join-Path $Kit "notebooks"
if (Test-Path -LiteralPath $Notebooks) { $Names += @(Get-ChildItem -LiteralPath $Notebooks | ForEach-Object { $_.Name }) }
foreach ($Name in $Names) {
    $Path = Join-Path $Target $Name
    try { $Attributes = [IO.File]::GetAttributes($Path) } catch { continue }   # nothing there
    if ($Attributes -band [IO.FileAttributes]::ReparsePoint) { Stop-Install "$Path is a symbolic link or junction" }
    if ($Name -eq "start.ps1" -and ($Attributes -band [IO.FileAttributes]::Directory)) { Stop-Install "$Path is a folder" }
}
# A path as one PowerShell literal, for the commands printed below: PowerShell reads the curly quotes as ' too.
function Format-Literal([string]$Text) {
    $Quotes = "['" + [char]0x2018 + [char]0x2019 + [char]0x201A + [char]0x201B + "]"
    "'" + ($Text -replace $Quotes, '$0$0') + "'"
}
& $PythonProgram @PythonArgs -m venv (Join-Path $Target ".venv")
if ($LASTEXITCODE -ne 0) { throw "$Python could not make a virtual environment in $Target\.venv" }
& (Join-Path $Target ".venv\Scripts\python.exe") -m pip install --quiet --disable-pip-version-check --no-index --find-links (Join-Path $Kit "wheels") "@COURSE@"
if ($LASTEXITCODE -ne 0) { throw "pip could not install the course from $Kit\wheels" }
if (Test-Path -LiteralPath $Notebooks) {
    Get-ChildItem -LiteralPath $Notebooks | ForEach-Object {   # never over a learner's own copy
        $To = Join-Path $Target $_.Name
        if (-not (Test-Path -LiteralPath $To)) { Copy-Item -LiteralPath $_.FullName -Destination $To -Recurse }
    }
}
$Data = Join-Path $Kit "data"
if ((Test-Path -LiteralPath $Data) -and -not (Test-Path -LiteralPath (Join-Path $Target "data"))) {
    Copy-Item -LiteralPath $Data -Destination (Join-Path $Target "data") -Recurse
}
Copy-Item -LiteralPath (Join-Path $Kit "start.ps1") -Destination (Join-Path $Target "start.ps1") -Force
Set-Location -LiteralPath $Target
$env:MNIST_TUTORIAL_OFFLINE = "1"
& (Join-Path $Target ".venv\Scripts\@CHECK_PROGRAM@.exe") @CHECK_ARGS@
$Status = $LASTEXITCODE
if ($Status -ne 0) {
    [Console]::Error.WriteLine("install.ps1: the course is installed in $Target, but its check failed (exit status $Status): do what the fix: lines above say, then check again with: cd $(Format-Literal $Target); .venv\Scripts\@CHECK_PROGRAM@ @CHECK_ARGS@")
    exit $Status
}
Write-Output "Installed. Start the course with: powershell -ExecutionPolicy Bypass -File $(Format-Literal (Join-Path $Target "start.ps1"))"
