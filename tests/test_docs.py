"""The documentation keeps up with the code: every setting and every command is documented.

``docs/settings.md`` and ``docs/cli.md`` are generated from the code (``python -m dealwatch.docs``); these
tests fail when the checked-in files differ from what the code generates, when a setting, command or
option has no description, when a doc or a message names a ``DEALWATCH_*`` variable that does not
exist, and when a link between the docs leads nowhere.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import click
import pytest

from dealwatch import docs
from dealwatch.settings import REPO_ROOT, Settings, env_name

SETTINGS = list(Settings.model_fields)
COMMANDS = [(" ".join(path), command) for path, command in docs.commands()]
DOC_FILES = [REPO_ROOT / "README.md", REPO_ROOT / "BENCHMARKS.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
CODE_FILES = [p for package in ("dealwatch", "crawler", "indexer", "search_ui", "alerts", "bench")
              for p in sorted((REPO_ROOT / package).rglob("*.py"))]
VARIABLE = re.compile(r"\bDEALWATCH_[A-Z0-9_]*[A-Z0-9]\b")
# Scrapy setting names of crawler/settings.py (inside the Scrapy settings object, never in the environment)
SCRAPY_KEYS: set[str] = set()   # the crawler's own Scrapy settings are DW_*, never DEALWATCH_*


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [docs.SETTINGS_DOC, docs.CLI_DOC], ids=lambda p: p.name)
def test_the_generated_reference_matches_the_code(path):
    expected = docs.generated()[path]
    actual = _read(path) if path.exists() else ""
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True),
                                                 "checked in", "generated", n=1))[:40])
        pytest.fail(f"docs/{path.name} is out of date: run `{docs.REGENERATE}` to update it\n{diff}")


def test_generating_twice_gives_the_same_text():
    assert docs.generated() == docs.generated()


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_documented(name):
    field = Settings.model_fields[name]
    assert field.description and len(field.description) > 20, f"give the setting {name} a description= a user can act on"
    assert field.description.rstrip().endswith((".", ")")), f"end the description of {name} with a full stop"
    assert f"`{env_name(name)}`" in _read(docs.SETTINGS_DOC), \
        f"{env_name(name)} is missing from docs/settings.md: run `{docs.REGENERATE}` to update it"


@pytest.mark.parametrize("title, command", COMMANDS, ids=[t for t, _ in COMMANDS])
def test_every_command_and_option_is_documented(title, command):
    assert (command.help or "").strip(), f"`{title}` has no help: give it a docstring"
    bare = [p.name for p in command.params if isinstance(p, click.Option) and not p.hidden and not p.help]
    assert bare == [], f"options of `{title}` without help=: {bare}"
    assert f"## `{title}`" in _read(docs.CLI_DOC), \
        f"`{title}` is missing from docs/cli.md: run `{docs.REGENERATE}` to update it"


def test_every_variable_the_docs_or_the_code_name_exists():
    known = {env_name(name) for name in SETTINGS} | set(docs.OTHER_VARIABLES) | SCRAPY_KEYS
    unknown = sorted({f"{name} ({path.relative_to(REPO_ROOT)})" for path in [*DOC_FILES, *CODE_FILES]
                      for name in VARIABLE.findall(_read(path)) if name not in known})
    assert unknown == [], "named but not a setting (a typo, or a setting that was renamed or removed)"


def test_a_help_text_that_shows_a_local_path_is_refused():
    @click.group()
    def tool():
        """A tool."""

    @tool.command()
    @click.option("--output", default=REPO_ROOT / "out.md", show_default=True, help="Where to write.")
    def write(output):
        """Write."""

    with pytest.raises(ValueError, match="show_default"):
        docs.cli_markdown(root=tool)


def test_the_readme_table_agrees_with_the_settings():
    section = _read(REPO_ROOT / "README.md").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(DEALWATCH_\w+)` \| ([^|]+) \|", section, re.M)
    assert len(rows) >= 5 and "docs/settings.md" in section
    fields = {env_name(name): field for name, field in Settings.model_fields.items()}
    for variable, default in rows:
        assert variable in fields, variable
        written = default.strip()
        if re.fullmatch(r"`[^`]*`", written):   # a literal default: the same as the code's
            assert written == docs.default_label(fields[variable]), f"README's default of {variable}"


def _anchors(markdown: str) -> set[str]:
    inside_code = False
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("```"):
            inside_code = not inside_code
        elif not inside_code and line.startswith("#"):
            anchors.add(docs._slug(line.lstrip("#").strip()))
    return anchors


@pytest.mark.parametrize("path", [p for p in DOC_FILES if p.name != "BENCHMARKS.md"],
                         ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_links_between_the_docs_lead_somewhere(path):
    text = re.sub(r"```.*?```", "", _read(path), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(_read(linked)):
            broken.append(f"{target} (no such heading)")
    assert broken == []


def test_the_references_are_linked():
    readme = _read(REPO_ROOT / "README.md")
    assert "(docs/settings.md)" in readme and "(docs/cli.md)" in readme
    assert "(cli.md)" in _read(docs.SETTINGS_DOC) and "(settings.md)" in _read(docs.CLI_DOC)
