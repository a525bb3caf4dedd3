"""pyproject.toml and environment.yml describe the same environment."""

import re
from pathlib import Path

import tomllib
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _split(requirement: str):
    name, spec = _SPEC.match(requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(r) for r in requirements)


def _environment():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    packages, python = {}, None
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            # "-e ." installs drugsim itself, not a dependency.
            packages.update(_split(r) for r in entry.get("pip", []) if not r.startswith("-"))
            continue
        name, spec = _split(entry)
        if name == "python":
            python = spec
        elif name != "pip":
            packages[name] = spec
    return packages, python


def test_same_packages_and_versions():
    pyproject = _pyproject()
    environment, _ = _environment()
    assert sorted(set(pyproject) - set(environment)) == [], "in pyproject.toml but not in environment.yml"
    assert sorted(set(environment) - set(pyproject)) == [], "in environment.yml but not in pyproject.toml"
    # An exact pin in environment.yml (torch, as the Makefile) must satisfy pyproject's range; otherwise equal.
    differ = {
        n: (pyproject[n], environment[n])
        for n in pyproject
        if pyproject[n] != environment[n] and not environment[n].startswith("==")
    }
    assert differ == {}, "version specifiers differ (pyproject, environment)"
    for name, spec in environment.items():
        if spec.startswith("=="):
            assert Version(spec[2:]) in SpecifierSet(pyproject[name]), (
                f"{name}{spec} outside pyproject's {pyproject[name]}"
            )


def test_torch_pins_match_the_makefile():
    environment, _ = _environment()
    makefile = (REPO / "Makefile").read_text()
    for name in ("torch", "torchvision"):
        assert environment[name].startswith("==")
        assert f"{name}{environment[name]}" in makefile


def test_environment_installs_drugsim_itself():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert env["name"] == "drugsim" and env["channels"] == ["conda-forge"]
    pip = next(entry for entry in env["dependencies"] if isinstance(entry, dict))["pip"]
    assert "-e ." in pip


def test_python_version_is_allowed_by_pyproject():
    _, python = _environment()
    assert python == "=3.11"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(x) for x in requires.lstrip(">=").split("."))
    assert (3, 11) >= minimum
