"""The pre-flight's checks of Python, the dependencies and the torch devices; each returns a `Check`. None downloads.

report.py runs them in order and prints or collects the results.
"""

import importlib.metadata as metadata
import sys
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

DISTRIBUTION = "mnist-tutorial"


@dataclass(frozen=True)
class Check:
    """One line of the report: `status` is "ok", "fix" (the course will break here) or "note" (worth knowing)."""

    name: str
    status: str
    detail: str

    @property
    def line(self) -> str:
        return f"{self.status}: {self.name}: {self.detail}"


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def fix(name: str, detail: str) -> Check:
    return Check(name, "fix", detail)


def note(name: str, detail: str) -> Check:
    return Check(name, "note", detail)


def course_requirements() -> list[Requirement]:
    """The installed course's own dependencies (from its metadata, so a wheel install works too), no extras."""
    found = []
    for text in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found.append(requirement)
    return found


def install_hint(name: str, *, force: bool = False) -> str:
    """`pip install "<name><the course's version range>"`, with the range from the installed course's metadata."""
    try:
        wanted = [r for r in course_requirements() if r.name.lower() == name.lower()]
        found = f"{wanted[0].name}{as_range(wanted[0].specifier)}" if wanted else name
    except metadata.PackageNotFoundError:
        found = name
    return f'pip install {"--force-reinstall " if force else ""}"{found}"'


def requires_python() -> str:
    """The installed course's Requires-Python (raises PackageNotFoundError when the course is not installed)."""
    return metadata.metadata(DISTRIBUTION)["Requires-Python"] or ""


def check_python() -> Check:
    """This Python against the course's Requires-Python."""
    here = ".".join(map(str, sys.version_info[:3]))
    try:
        needed = requires_python()
    except metadata.PackageNotFoundError:
        return fix(
            "python", f"the course is not installed in this Python ({sys.executable}): pip install mnist-tutorial"
        )
    if Version(here) in SpecifierSet(needed):
        return ok("python", f"{here} ({needed})")
    return fix("python", f"Python {here} is outside what the course needs ({needed}): install Python 3.10 or newer")


def as_range(specifier: SpecifierSet) -> str:
    """ ">=2.5,<3" (lower bound first), as pyproject.toml writes it."""
    return ",".join(sorted(map(str, specifier), key=lambda part: not part.startswith(">")))


def check_dependencies() -> list[Check]:
    """Every dependency installed at a version the course accepts."""
    try:
        requirements = course_requirements()
    except metadata.PackageNotFoundError:
        return []  # check_python already said so
    checks = []
    for requirement in requirements:
        name = requirement.name
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            checks.append(fix(name, f"not installed: {install_hint(name)}"))
            continue
        if requirement.specifier.contains(version, prereleases=True):
            checks.append(ok(name, f"{version} ({as_range(requirement.specifier) or 'any version'})"))
        else:
            checks.append(fix(name, f"{version} is outside {as_range(requirement.specifier)}: {install_hint(name)}"))
    return checks


def torch_devices() -> list[str]:
    """Every device torch can use here: the CPU, each CUDA GPU, Apple's MPS."""
    import torch

    devices = ["cpu"] + [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def tiny_training_step(device: str) -> None:
    """One SGD step of the lesson's network on 8 random images on `device`; raises if anything is wrong."""
    import torch

    from ..model import NeuralNetwork

    generator = torch.Generator().manual_seed(0)
    model = NeuralNetwork().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    inputs = torch.rand(8, 1, 28, 28, generator=generator).to(device)
    labels = torch.randint(0, 10, (8,), generator=generator).to(device)
    before = model.fc3.weight.detach().clone()
    loss = torch.nn.functional.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
    if not torch.isfinite(loss) or torch.equal(before, model.fc3.weight.detach()):
        raise RuntimeError(f"the step gave loss {loss.item()} and left the weights unchanged")


def check_devices() -> list[Check]:
    """One check per device: a tiny training step must run on it."""
    try:
        devices = torch_devices()
    except Exception as error:  # ImportError, or a torch whose native libraries do not load
        return [fix("torch", f"cannot be imported ({error}): {install_hint('torch', force=True)}")]
    checks = []
    for device in devices:
        try:
            tiny_training_step(device)
        except Exception as error:  # a broken driver shows up as any kind of error
            message = " ".join(str(error).split())[:200]
            hint = "use --device cpu (or $MNIST_TUTORIAL_DEVICE=cpu), or update the GPU driver"
            checks.append(fix(f"device {device}", f"a training step failed ({message}): {hint}"))
        else:
            checks.append(ok(f"device {device}", "one training step ran"))
    return checks
