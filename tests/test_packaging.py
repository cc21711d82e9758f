"""The wheel's package list: every package folder of the source tree is in it.

Editable installs find any folder, so a subpackage missing from pyproject.toml's hand-written list
(a new agent, say) would pass every test here and be missing only from a user's installed wheel.
"""

import tomllib

from conftest import ROOT

SOURCE_FOLDERS = {"rlkit": "rlkit", "rlkit.envs": "envs", "rlkit.agents": "agents"}  # as package-dir maps them


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == SOURCE_FOLDERS
    on_disk = set()
    for package, folder in SOURCE_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((package, *parts)))
    assert on_disk == set(setuptools["packages"])
