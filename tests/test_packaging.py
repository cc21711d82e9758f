"""The wheel's package list: every package folder of the source tree is in it; one version number.

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


def test_gtp_and_sgf_report_the_version_written_in_pyproject():
    from rlkit import __version__
    from rlkit.envs.go.game import Game
    from rlkit.envs.go.gtp import GtpEngine
    from rlkit.envs.go.sgf import to_sgf

    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == expected
    assert GtpEngine(size=9, komi=7.5).cmd_version([]) == expected
    assert f"AP[rlkit:{expected}]" in to_sgf(Game(9))
