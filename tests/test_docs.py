"""The documentation: every public name in the API reference; the README short, the two commands first."""
from __future__ import annotations

import re
from pathlib import Path

import synkan

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 160


def test_every_public_name_is_in_the_api_reference():
    reference = (DOCS / "researchers.md").read_text().split("## API reference")[1]
    documented = set(re.findall(r"^::: synkan\.[\w.]+\.(\w+)$", reference, re.M))
    public = set(synkan.__all__) - {"__version__"}
    assert public <= documented, sorted(public - documented)
    # Each entry points at the module where the name lives.
    for target in re.findall(r"^::: (synkan\.[\w.]+)$", reference, re.M):
        module, name = target.rsplit(".", 1)
        assert getattr(synkan, name).__module__ == module, target


def test_readme_leads_with_the_two_commands_and_points_to_every_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    first_block = text.split("```bash\n", 1)[1].split("```")[0]
    assert first_block.startswith("make demo") and "\nmake test" in first_block
    for page in ("clinicians", "researchers", "labs", "validation", "methods", "changelog"):
        assert f"docs/{page}.md" in text and (DOCS / f"{page}.md").is_file(), page
    assert "six shared" not in text + "".join(p.read_text() for p in DOCS.glob("*.md"))
