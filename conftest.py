"""Notebooks under a bare `pytest` (or `pytest notebooks/`) run as under `make test` and `make notebooks`.

nbval's kernels inherit these, so the notebooks see what their committed outputs were made with: the
embedded sample, the CPU, plain progress lines, and no network. This file sits at the project's root rather
than in notebooks/, so that the learner's folder holds only lessons; pytest loads it for every test path
below it. An explicit setting in the environment (as `make test` gives) wins.
"""

import os

import pytest

from tools.execute_notebooks import NOTEBOOK_ENV

for name, value in NOTEBOOK_ENV.items():
    os.environ.setdefault(name, value)


# With pytest-xdist (`make test` passes -n auto --dist loadgroup) each group below runs on one worker, in order.
# nbval's notebooks form one group: 04 and 08 read the network 03 saved. Every test module is a group of its own,
# so that its module-scoped server, browser or fresh environment is started once; the site and the
# accessibility tests share the session's built site. The longest groups are handed out first.
LONGEST_FIRST = ("notebooks", "tests/test_browser.py", "site", "tests/test_wheel.py")
SHARED = {"tests/test_site.py": "site", "tests/test_accessibility.py": "site"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups into the test ids
def pytest_collection_modifyitems(config, items) -> None:
    group_of = {}
    for item in items:
        where = item.path.relative_to(config.rootpath).as_posix()
        group_of[item] = "notebooks" if item.path.suffix == ".ipynb" else SHARED.get(where, where)
        item.add_marker(pytest.mark.xdist_group(group_of[item]))
    rank = {group: index for index, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of[item], len(rank)))
