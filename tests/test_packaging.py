"""The package installs as ONE import package, `deepfake_edge`, from a real (non-editable) wheel."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True, cwd=out,
    )
    (path,) = out.glob("deepfake_edge-*.whl")
    return path


def test_wheel_has_only_deepfake_edge_at_top(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"deepfake_edge"}
    for sub in ("runtime", "train", "export", "app"):
        assert f"deepfake_edge/{sub}/__init__.py" in names
    assert "deepfake_edge/runtime/backends/base.py" in names
    assert not any(n.startswith("deepfake_edge/tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "deepfake-edge = deepfake_edge.app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_imports_from_any_folder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True)
    assert not any((target / name).exists() for name in ("app", "runtime", "train", "export"))
    # -S: no site-packages, so neither the editable install nor the repo can answer the import.
    code = ("import deepfake_edge.runtime.contract as c, deepfake_edge.runtime as r; "
            "print(c.__file__); print(c.ModelContract().class_names)")
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(target)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith(str(target))
    assert "('Fake', 'Real')" in out.stdout
