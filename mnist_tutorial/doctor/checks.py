"""The pre-flight's checks of the machine: Python, the dependencies, torch's devices, memory, the data and disk.

report.py runs them all, in order. None downloads: a mirror is only asked for a file's headers, and only where
network use is allowed.
"""

import concurrent.futures
import importlib.metadata as metadata
import os
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from .. import defaults
from ..datasets import download, sources
from ..datasets.checksums import md5_of_file, verify_full
from ..errors import DataError, TutorialError

DISTRIBUTION = "mnist-tutorial"
SAMPLE_MANIFEST = sources.SAMPLE_DIR.parents[1] / "MD5SUMS"  # `md5sum -c` lines, beside the sample
MIN_FREE_GIB = 1  # full MNIST takes ~65 MB and a run's outputs ~1 MB; below 1 GiB saving soon fails
MIRROR_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    """One line of the report: `status` is "ok", "fix" (the course will break here) or "note" (worth knowing)."""

    name: str
    detail: str
    status: str

    @property
    def line(self) -> str:
        return f"{self.status}: {self.name}: {self.detail}"


ok = partial(Check, status="ok")  # ok(name, detail)
fix = partial(Check, status="fix")
note = partial(Check, status="note")


def one_line(text: object) -> str:
    """`text` on one line, at most 200 characters, unprintable characters as '?': safe to print from any file."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))[:200]


def course_requirements() -> list[Requirement]:
    """The installed course's own dependencies, no extras (from its metadata, so a wheel install works too)."""
    requirements = map(Requirement, metadata.requires(DISTRIBUTION) or [])
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]


def as_range(specifier: SpecifierSet) -> str:
    """ ">=2.5,<3" (lower bound first), as pyproject.toml writes it."""
    return ",".join(sorted(map(str, specifier), key=lambda part: not part.startswith(">")))


def install_hint(name: str, *, force: bool = False) -> str:
    """`pip install "<name><the course's version range>"`, the range from the installed course's metadata."""
    try:
        wanted = [r for r in course_requirements() if r.name.lower() == name.lower()]
        found = f"{wanted[0].name}{as_range(wanted[0].specifier)}" if wanted else name
    except metadata.PackageNotFoundError:
        found = name
    return f'pip install {"--force-reinstall " if force else ""}"{found}"'


def check_python() -> Check:
    """This Python against the course's Requires-Python."""
    here = ".".join(map(str, sys.version_info[:3]))
    try:
        needed = metadata.metadata(DISTRIBUTION)["Requires-Python"] or ""
    except metadata.PackageNotFoundError:
        return fix(
            "python", f"the course is not installed in this Python ({sys.executable}): pip install mnist-tutorial"
        )
    if SpecifierSet(needed).contains(here):
        return ok("python", f"{here} ({needed})")
    return fix("python", f"Python {here} is outside what the course needs ({needed}): install Python 3.10 or newer")


def check_dependencies() -> list[Check]:
    """Every dependency installed at a version the course accepts."""
    try:
        requirements = course_requirements()
    except metadata.PackageNotFoundError:
        return []  # check_python already said so
    return [check_version(requirement.name, requirement.specifier) for requirement in requirements]


def check_version(name: str, wanted: SpecifierSet) -> Check:
    """`name` installed at a version in `wanted`."""
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return fix(name, f"not installed: {install_hint(name)}")
    if wanted.contains(version, prereleases=True):
        return ok(name, f"{version} ({as_range(wanted) or 'any version'})")
    return fix(name, f"{version} is outside {as_range(wanted)}: {install_hint(name)}")


def torch_devices() -> list[str]:
    """Every device torch can use here: the CPU, each CUDA GPU, Apple's MPS."""
    import torch

    mps = ["mps"] if torch.backends.mps.is_available() else []
    return ["cpu", *(f"cuda:{index}" for index in range(torch.cuda.device_count())), *mps]


def tiny_training_step(device: str) -> None:
    """The lesson's training step on 8 random images on `device`; raises if it fails or changes nothing."""
    import torch

    from ..model import NeuralNetwork
    from ..train import make_optimizer, training_step

    generator = torch.Generator().manual_seed(0)
    model = NeuralNetwork().to(device)
    inputs = torch.rand(8, 1, 28, 28, generator=generator).to(device)
    labels = torch.randint(0, 10, (8,), generator=generator).to(device)
    before = model.fc3.weight.detach().clone()
    loss = training_step(model, make_optimizer(model), torch.nn.CrossEntropyLoss(), inputs, labels)
    if not torch.isfinite(loss) or torch.equal(before, model.fc3.weight.detach()):
        raise RuntimeError(f"the step gave loss {loss.item()} and left the weights unchanged")


def check_devices() -> list[Check]:
    """One check per device: a tiny training step must run on it."""
    try:
        devices = torch_devices()
    except Exception as error:  # ImportError, or a torch whose native libraries do not load
        return [fix("torch", f"cannot be imported ({error}): {install_hint('torch', force=True)}")]
    return [check_device(device) for device in devices]


def check_device(device: str) -> Check:
    """A tiny training step must run on `device`."""
    try:
        tiny_training_step(device)
    except Exception as error:  # a broken driver shows up as any kind of error
        hint = "use --device cpu (or $MNIST_TUTORIAL_DEVICE=cpu), or update the GPU driver"
        return fix(f"device {device}", f"a training step failed ({one_line(error)}): {hint}")
    return ok(f"device {device}", "one training step ran")


def check_memory() -> Check:
    """The memory free here against what one student's notebooks need: too little is a note, not a failure."""
    import psutil

    memory = psutil.virtual_memory()
    found = f"{memory.available / 1e9:.1f} GB available of {memory.total / 1e9:.1f} GB"
    if memory.available >= defaults.STUDENT_MEMORY_GB * 1e9:
        return ok("memory", found)
    return note(
        "memory",
        f"{found}, below the {defaults.STUDENT_MEMORY_GB:g} GB one student's notebooks need: close other programs and "
        "keep one notebook running at a time (Kernel > Shut Down Kernel before opening the next), or work in the room "
        "(docs/room.md)",
    )


def read_manifest(manifest: Path) -> dict[str, str]:
    """`md5sum` lines ("<md5>  <path>") as {file name: md5}."""
    lines = (line.split(maxsplit=1) for line in manifest.read_text().splitlines() if line.strip())
    return {Path(name.strip().lstrip("*")).name: digest for digest, name in lines}


def check_source(data_dir: Path | None = None) -> Check:
    """Which data `load_data()` would use here, with no download (check_full checks the md5s)."""
    try:
        found = sources.resolve_source(data_dir=data_dir, download=False, verify=False)
    except TutorialError as error:
        return fix("data source", str(error))
    return ok("data source", f"{found.kind} ({'the embedded sample' if found.kind == 'sample' else 'full MNIST'})")


def check_sample(sample_dir: Path = sources.SAMPLE_DIR) -> Check:
    """The embedded sample's four files are there and match the md5s shipped beside them."""
    if not SAMPLE_MANIFEST.is_file():
        return fix("sample", f"its md5 list {SAMPLE_MANIFEST.name} is missing: {sources.RESTORE_SAMPLE}")
    damaged = [
        name
        for name, digest in read_manifest(SAMPLE_MANIFEST).items()
        if not (sample_dir / name).is_file() or md5_of_file(sample_dir / name) != digest
    ]
    if damaged:
        return fix("sample", f"missing or damaged: {', '.join(damaged)}: {sources.RESTORE_SAMPLE}")
    return ok("sample", "4 files, md5s match")


def check_full(data_dir: Path | None = None) -> Check:
    """Full MNIST, where present: the files training would read, checked as training checks them."""
    spec = sources.get_spec("mnist")
    folder = sources.find_full(spec, Path(data_dir).expanduser() if data_dir is not None else defaults.DATA_DIR)
    if folder is None:
        return ok("full MNIST", "not downloaded (the sample stands in)")
    try:
        verify_full(spec, folder)
    except DataError as error:
        return fix("full MNIST", str(error))
    return ok("full MNIST", "4 files, md5s match")


def check_disk() -> Check:
    """Free space where data and outputs go (measured at the nearest folder that exists)."""
    free = []
    for folder in (defaults.DATA_DIR, defaults.BUILD_DIR):
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free.append(shutil.disk_usage(folder).free / 2**30)
    if min(free) < MIN_FREE_GIB:
        return fix("disk", f"{min(free):.1f} GiB free, the course needs {MIN_FREE_GIB} GiB: free some space")
    return ok("disk", f"{min(free):.0f} GiB free")


def mirror_reachable(url: str, timeout: float) -> bool:
    """Whether the server answers a HEAD request for `url` within `timeout`, name lookup included."""
    try:
        with download.open_url(urllib.request.Request(url, method="HEAD"), timeout) as response:
            return response.status < 400
    except Exception:  # any failure means "not reachable from here"
        return False


def check_mirrors(timeout: float = MIRROR_TIMEOUT_S) -> Check:
    """Whether any of torchvision's MNIST mirrors answers; never asked when network use is off."""
    if not download.network_allowed():
        return ok("mirrors", f"not checked: network use is off (${defaults.OFFLINE_ENV})")
    if os.environ.get(defaults.SOURCE_ENV) == "sample":
        return ok("mirrors", f"not checked: ${defaults.SOURCE_ENV}=sample never downloads")
    mnist = sources.get_spec("mnist").torchvision_class
    urls = [f"{mirror}{mnist.resources[0][0]}" for mirror in mnist.mirrors]
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:  # at once: `timeout` in all, not per mirror
        reachable = sum(pool.map(lambda url: mirror_reachable(url, timeout), urls))
    if reachable:
        return ok("mirrors", f"{reachable} of {len(urls)} reachable")
    return note("mirrors", "none reachable: full MNIST cannot be downloaded here; the course uses the sample")
