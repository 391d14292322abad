"""The built dashboard: its API types match the API, its first screen stays small, its bundles cache.

These read the real frontend/ (node_modules and dist/), which `make test` installs and builds first.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
DIST = FRONTEND / "dist"
# The budget for the JavaScript the first screen loads, gzipped.
FIRST_SCREEN_BUDGET = 500 * 1024


def _require(path: Path, how: str) -> None:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: {how}")


def test_committed_api_types_match_the_api(tmp_path):
    """frontend/src/api/schema.d.ts is what `make api-types` makes from today's API."""
    tool = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
    _require(tool, "`make test` runs npm ci in frontend/")
    schema = tmp_path / "schema.yml"
    # The product's URLs (the test settings add a test-only app's routes).
    call_command("spectacular", file=str(schema), urlconf="scrm.urls")
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(tool), str(schema), "-o", str(generated)], cwd=FRONTEND, check=True, capture_output=True
    )
    committed = (FRONTEND / "src" / "api" / "schema.d.ts").read_text()
    assert generated.read_text() == committed, (
        "The dashboard's API types are stale: run `make api-types` and commit frontend/src/api/schema.d.ts"
    )


def _manifest() -> dict:
    manifest = DIST / ".vite" / "manifest.json"
    _require(manifest, "`make test` builds the dashboard")
    return json.loads(manifest.read_text())


def _static_closure(manifest: dict, key: str, seen: set[str]) -> None:
    """A chunk and every chunk it imports statically (what the browser must load before running it)."""
    if key in seen:
        return
    seen.add(key)
    for imported in manifest[key].get("imports", []):
        _static_closure(manifest, imported, seen)


def _gzipped_js(manifest: dict, keys: set[str]) -> int:
    return sum(
        len(gzip.compress((DIST / manifest[k]["file"]).read_bytes(), compresslevel=9))
        for k in keys
        if manifest[k]["file"].endswith(".js")
    )


def test_every_first_screen_loads_at_most_500_kb_of_gzipped_javascript():
    """Whatever page a (shared or reloaded) link opens first: the entry chunk, which has the login
    page, plus that page's own chunks. What a page loads later (a drawer, a chart) is not counted."""
    manifest = _manifest()
    entry = next(k for k, chunk in manifest.items() if chunk.get("isEntry"))
    shell: set[str] = set()
    _static_closure(manifest, entry, shell)
    pages = [k for k in manifest if k.startswith("src/pages/") and k.endswith("Page.tsx")]
    assert len(pages) >= 6, pages
    sizes = {"login": _gzipped_js(manifest, shell)}
    for page in pages:
        loaded = set(shell)
        _static_closure(manifest, page, loaded)
        sizes[page] = _gzipped_js(manifest, loaded)
    too_big = {page: f"{size / 1024:.0f} KB" for page, size in sizes.items() if size > FIRST_SCREEN_BUDGET}
    assert not too_big, too_big


def test_pages_are_split_by_route():
    """Each page is its own chunk, so opening one does not download the others."""
    manifest = _manifest()
    pages = {k for k, chunk in manifest.items() if chunk.get("isDynamicEntry")}
    for page in ("CustomersPage", "SettingsPage", "TagsPage", "StaffPage", "OverviewPage", "LostPage"):
        assert any(page in key for key in pages), f"{page} is not loaded lazily"


def test_hashed_bundles_are_cached_for_good(client):
    manifest = _manifest()
    entry = next(chunk for chunk in manifest.values() if chunk.get("isEntry"))
    response = client.get(f"/{entry['file']}")
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/javascript")
