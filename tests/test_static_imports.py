"""Static tools can follow the code: every `deepfake_edge.*` import resolves WITHOUT running Python.

pyright (VS Code), mypy and jedi read the plain paths in site-packages' `.pth` files and
never run the `import ...` lines an editable-install hook relies on. With the package-dir
mapping only known to such a hook, not a single `deepfake_edge.*` import resolved for
them. `make setup` installs in setuptools' strict editable mode (a link tree on a plain
path); this test resolves each import of the package's own modules the way those tools
do, so it fails if the install, or a newly added module, is not visible to them.
"""
from __future__ import annotations

import ast
import os
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("runtime", "train", "export", "app")


def static_paths() -> list[Path]:
    """Folders named by plain lines of the environment's .pth files (what static tools read)."""
    site = Path(sysconfig.get_paths()["purelib"])
    paths = [site]
    for pth in site.glob("*.pth"):
        for line in pth.read_text(errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")):
                paths.append((site / line).resolve() if not os.path.isabs(line) else Path(line))
    return paths


def own_imports() -> set[str]:
    names = set()
    for package in PACKAGES:
        for source in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deepfake_edge"):
                    names.add(node.module)
                elif isinstance(node, ast.Import):
                    names.update(a.name for a in node.names if a.name.startswith("deepfake_edge"))
    return names


def resolves(module: str, roots: list[Path]) -> bool:
    rel = Path(*module.split("."))
    return any((root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()
               for root in roots)


def test_every_cross_package_import_resolves_statically():
    if not any(Path(sysconfig.get_paths()["purelib"]).glob("__editable__*deepfake_edge*")) and \
            not (Path(sysconfig.get_paths()["purelib"]) / "deepfake_edge").is_dir():
        pytest.skip("deepfake-edge is not installed in this environment")
    roots = static_paths()
    imports = own_imports()
    assert len(imports) > 40  # the package really imports itself across layers
    unresolved = sorted(m for m in imports if not resolves(m, roots))
    assert not unresolved, (f"{len(unresolved)} imports invisible to static tools (reinstall with `make setup`, "
                            f"strict editable mode): {unresolved[:8]}")
