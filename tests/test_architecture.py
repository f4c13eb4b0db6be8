"""The layering rules, checked on the source: typed commands and views, panels that know no experiment,
no import cycle between the app and its window, and a map that lives in the repository."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sources(folder: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in (ROOT / folder).rglob("*.py")}


def _hits(pattern: str, folder: str) -> list[str]:
    rx = re.compile(pattern)
    return [f"{name}:{i}" for name, text in _sources(folder).items()
            for i, line in enumerate(text.splitlines(), 1) if rx.search(line)]


def test_commands_are_typed_not_strings():
    assert _hits(r"getattr\(self, f[\"']_cmd_", "visualizer") == []
    assert _hits(r"getattr\(self, f[\"']_cmd_", "core") == []
    assert _hits(r"query_sync|def query\b", "visualizer") == []


def test_the_gui_reads_typed_views_not_experiment_keys():
    assert _hits(r"extras\[|extras\.get|\.extras\b", "visualizer") == []


def test_panels_and_widgets_know_no_specific_experiment():
    assert _hits(r"^\s*(from|import)\s+core\.experiments", "visualizer/panels") == []
    assert _hits(r"^\s*(from|import)\s+core\.experiments\.\w+", "visualizer/widgets") == []


def test_core_names_no_panel():
    assert _hits(r"^\s*panels\s*=", "core") == []


def test_only_the_entry_point_imports_the_app():
    importers = _hits(r"^\s*(from|import)\s+visualizer\.app\b", "visualizer")
    assert importers and all(h.startswith("visualizer/entry.py") for h in importers)


def test_the_readme_points_to_no_file_outside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../" not in readme
