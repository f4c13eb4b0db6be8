"""core/ must never import Qt: import every core module with Qt imports blocked."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, importlib.abc, pkgutil, sys

BLOCKED = ("PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "shiboken2", "qtpy")


class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"core must not import Qt, but something imported {name!r}")
        return None


sys.meta_path.insert(0, BlockQt())
import core

names = ["core"]
failed = []
for info in pkgutil.walk_packages(core.__path__, "core.", onerror=lambda n: failed.append((n, "walk"))):
    names.append(info.name)
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:  # report every module, not just the first
        failed.append((name, f"{type(exc).__name__}: {exc}"))
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("IMPORTED", " ".join(names))
for name, why in failed:
    print("FAILED", name, why)
print("LEAKED", leaked)
sys.exit(1 if failed or leaked else 0)
"""


def test_every_core_module_imports_without_qt():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LEAKED []" in proc.stdout
    # the walk really found every module file, including ones added later
    imported = set(proc.stdout.split("IMPORTED", 1)[1].splitlines()[0].split())
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
             for p in (ROOT / "core").rglob("*.py")}
    assert files <= imported, f"not reached by pkgutil (missing __init__.py?): {sorted(files - imported)}"


def test_the_blocker_catches_a_qt_import():
    """The guard itself works: a module importing pyqtgraph is reported."""
    script = SCRIPT.replace("import core\n", "import core\nimport json\n").replace(
        'names = ["core"]', 'names = ["core", "pyqtgraph"]')
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "FAILED pyqtgraph ImportError: core must not import Qt" in proc.stdout
