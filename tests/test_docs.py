"""Docs a newcomer can resolve, in the repository (issue 15, item 6).

The code cites reliability and security requirements by id; docs/requirements.md
defines them. These tests keep docs/ and README.md in step with the code:

- every requirement tag used in console/, gpu_agent/, workers/, forge_cli/, tests/ or
  templates/ is defined in docs/requirements.md (a heading such as ``### R7 — ...``),
  and docs/requirements.md defines exactly R1 to R10 and S1 to S16;
- every test docs/requirements.md cites exists, and every requirement cites a test or
  says plainly that it has none;
- README.md lists every Django app under console/ (a folder with apps.py), and nothing
  else, and links every page of docs/; docs/architecture.md names every app;
- docs/operations.md names every FORGE_* variable the settings and the agent's command
  line read.

The scan reads files only; it needs no database.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCANNED = ("console", "gpu_agent", "workers", "forge_cli", "tests", "templates")
TEXT_SUFFIXES = {".py", ".html", ".js", ".txt", ".md"}
# What RELIABILITY defines: ten faults, sixteen kinds of bad input and abuse.
REQUIREMENTS = {f"R{n}" for n in range(1, 11)} | {f"S{n}" for n in range(1, 17)}

# A tag is R or S and one or two digits, standing alone: "S3-compatible" or "S3Client"
# is not one (a hyphen or a word character on either side).
TAG = re.compile(r"(?<![\w-])([RS][0-9]{1,2})(?![\w-])")
DEFINED = re.compile(r"^#{2,4}\s+([RS][0-9]{1,2})\b", re.MULTILINE)
CITED_TEST = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?")
APP_LINE = re.compile(r"^\s*[-*]\s+`console/(\w+)/`", re.MULTILINE)


def tags_in(text: str) -> set[str]:
    return set(TAG.findall(text))


def tag_uses() -> dict[str, list[str]]:
    """Each tag used in the scanned folders -> the files that use it."""
    uses: dict[str, list[str]] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for tag in tags_in(text):
                uses.setdefault(tag, []).append(str(path.relative_to(ROOT)))
    return uses


def defined_tags() -> dict[str, str]:
    """Each requirement defined in docs/requirements.md -> its section's text."""
    text = (DOCS / "requirements.md").read_text()
    marks = list(DEFINED.finditer(text))
    sections = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        sections[mark.group(1)] = text[mark.start() : end]
    return sections


def apps() -> set[str]:
    return {path.parent.name for path in (ROOT / "console").glob("*/apps.py")}


def forge_settings() -> set[str]:
    """The FORGE_* variables console/settings read through console.env, and the ones
    the agent's command line reads."""
    names: set[str] = set()
    for path in (ROOT / "console" / "settings").glob("*.py"):
        names |= set(re.findall(r'(?:env\.\w+|_env_float)\(\s*"(FORGE_\w+)"', path.read_text()))
    agent = (ROOT / "gpu_agent" / "__main__.py").read_text()
    names |= set(re.findall(r'os\.environ\.get\(\s*"(FORGE_\w+)"', agent))
    return names


# ------------------------------------------------------------------ the scanner itself


def test_the_tag_pattern_finds_tags_and_nothing_else():
    undefined = "S" + str(len(REQUIREMENTS) - 9)  # one past S16: not a requirement
    text = (
        "# fail at once (R10); refused (RELIABILITY.md S14, S15).\n"
        '"""An S3-compatible backend, an S3Client, R2D2, RS232 and v1.R5x are not tags."""\n'
        f"# a new promise ({undefined})\n"
    )
    found = tags_in(text)
    assert found == {"R10", "S14", "S15", undefined}
    assert found - REQUIREMENTS == {undefined}


# ------------------------------------------------------------------ requirements


def test_the_docs_define_exactly_the_requirements():
    defined = defined_tags()
    assert set(defined) == REQUIREMENTS, (
        f"docs/requirements.md misses {sorted(REQUIREMENTS - set(defined))} "
        f"and defines unknown {sorted(set(defined) - REQUIREMENTS)}"
    )


def test_every_tag_used_in_the_code_is_defined():
    defined = set(defined_tags())
    uses = tag_uses()
    assert uses, "no requirement tag found at all: the scan is broken"
    missing = {tag: files for tag, files in uses.items() if tag not in defined}
    assert not missing, (
        "requirement tags used but not defined in docs/requirements.md "
        f"(define them there, or fix the tag): {missing}"
    )


def test_every_requirement_cites_its_tests_or_says_it_has_none():
    bare = [
        tag
        for tag, section in defined_tags().items()
        if "::test_" not in section and "no pytest test" not in section.lower()
    ]
    assert not bare, f"requirements with no test cited and no 'No pytest test.': {bare}"


def test_every_cited_test_exists():
    text = (DOCS / "requirements.md").read_text()
    missing = []
    for file, name in set(CITED_TEST.findall(text)):
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name and not re.search(rf"^\s*(async )?def {name}\(", path.read_text(), re.M):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/requirements.md cites tests that do not exist: {sorted(missing)}"


# ------------------------------------------------------------------ apps, settings, links


def test_the_readme_lists_every_app_and_only_apps():
    listed = set(APP_LINE.findall((ROOT / "README.md").read_text()))
    assert listed == apps(), (
        f"README.md's app list misses {sorted(apps() - listed)} "
        f"and lists {sorted(listed - apps())}, which have no apps.py"
    )


def test_the_architecture_names_every_app():
    text = (DOCS / "architecture.md").read_text()
    missing = sorted(app for app in apps() if f"`console/{app}/`" not in text)
    assert not missing, f"docs/architecture.md does not describe the apps {missing}"


def test_operations_names_every_forge_setting():
    text = (DOCS / "operations.md").read_text()
    names = forge_settings()
    assert "FORGE_DATA_DIR" in names and "FORGE_AGENT_ROOTS" in names  # the scan works
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"docs/operations.md does not document {missing}"


def test_the_readme_links_every_page_of_the_docs():
    readme = (ROOT / "README.md").read_text()
    pages = sorted(DOCS.glob("*.md"))
    assert pages
    missing = [page.name for page in pages if f"docs/{page.name}" not in readme]
    assert not missing, f"README.md does not link {missing}"
