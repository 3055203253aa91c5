"""The documentation: a README that fits on a screen, whose links lead somewhere, and a site
that MkDocs builds with --strict (a broken link, a missing anchor or an API reference to a name
that no longer exists fails the build)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def test_readme_is_short_and_its_links_lead_to_files():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    targets = [m.group(1) for m in LINK.finditer(readme) if "://" not in m.group(1)]
    assert "docs/python.md" in targets
    missing = [t for t in targets if not (REPO / t).exists()]
    assert missing == []


def test_every_docs_page_is_in_the_site(tmp_path):
    """Built with --strict: also, every page of docs/ is in the nav and every anchor exists."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent), "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (tmp_path / "site" / "python.html").read_text()
    assert 'id="facerec.FaceRecognizer.enroll"' in reference  # the API reference was generated
    for page in (REPO / "docs").glob("*.md"):
        assert (tmp_path / "site" / page.with_suffix(".html").name).is_file(), page.name
