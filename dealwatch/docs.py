"""The reference docs generated from the code: ``docs/settings.md`` and ``docs/cli.md``.

``docs/settings.md`` lists every ``DEALWATCH_*`` variable with its type, default and description,
read from the fields of :class:`dealwatch.settings.Settings`; ``docs/cli.md`` shows every
``dealwatch`` command and subcommand with its ``--help``. Both are checked in, so they read well on
the forge, and ``tests/test_docs.py`` fails when a file differs from what the code generates.

    python -m dealwatch.docs            rewrite both files
    python -m dealwatch.docs --check    only say which files are out of date (exit status 1)

The output depends on the code alone (fixed width, sorted commands, repository-relative paths),
never on the machine, the checkout's location or the environment.
"""

from __future__ import annotations

import argparse
import sys
from types import UnionType
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Union, get_args, get_origin

import click
from pydantic.fields import FieldInfo

from dealwatch.settings import REPO_ROOT, Settings, default_cache_dir, default_data_dir, env_name

DOCS_DIR = REPO_ROOT / "docs"
SETTINGS_DOC = DOCS_DIR / "settings.md"
CLI_DOC = DOCS_DIR / "cli.md"
REGENERATE = "python -m dealwatch.docs"
HELP_WIDTH = 78          # what click prints in an 80-column terminal

# DEALWATCH_* variables that are not settings: read by the tests and benchmarks alone
OTHER_VARIABLES = {
    "DEALWATCH_KEEP_ES": "Tests: `1` leaves the local node running after a test session that started it "
                         "(set it whenever a node is shared).",
    "DEALWATCH_SHARED_DATA": "Tests and benchmarks: the folder of the real test data (news pages, labelled "
                             "articles); default `../shared/data` next to the repository. Tests that need it skip "
                             "when it is missing.",
}

_BASE_TYPES = {bool: "true or false", int: "integer", float: "number", str: "text", Path: "path"}


# --- docs/settings.md ----------------------------------------------------------------------

def _extra(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def type_label(field: FieldInfo) -> str:
    """The field's type as a reader needs it: ``integer, 1–65535``, ``one of `a`, `b```, ``path``."""
    if "kind" in _extra(field):
        return str(_extra(field)["kind"])
    annotation = field.annotation
    if get_origin(annotation) in (Union, UnionType):   # X | None: None stands for a derived default
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    metadata = list(field.metadata)
    if get_origin(annotation) is Annotated:
        annotation, *inner = get_args(annotation)
        metadata += inner
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    base = _BASE_TYPES[annotation]
    bounds = {name: getattr(item, name) for item in metadata
              for name in ("ge", "gt", "le", "lt", "min_length") if getattr(item, name, None) is not None}
    if "ge" in bounds and "le" in bounds:
        return f"{base}, {_number(bounds['ge'])}–{_number(bounds['le'])}"
    for name, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
        if name in bounds:
            return f"{base} {sign} {_number(bounds[name])}"
    if bounds.get("min_length"):
        return f"{base} (not empty)"
    return base


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def default_label(field: FieldInfo) -> str:
    """The default as docs show it: the same on every machine and in every checkout."""
    if "shown_default" in _extra(field):
        return str(_extra(field)["shown_default"])
    if field.default_factory is not None:
        raise ValueError(f"the default of {field.description!r} is computed on each machine: give the setting a "
                         "shown= text for the docs")
    value = field.get_default(call_default_factory=False)
    if isinstance(value, Path):
        value = value.relative_to(REPO_ROOT) if value.is_relative_to(REPO_ROOT) else value
    if value == "":
        return "empty"
    return f"`{_number(value)}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def groups() -> dict[str, list[str]]:
    """Group title -> field names, in the order the fields are declared."""
    out: dict[str, list[str]] = {}
    for name, field in Settings.model_fields.items():
        out.setdefault(str(_extra(field).get("group", "Other")), []).append(name)
    return out


def _slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def settings_markdown() -> str:
    by_group = groups()
    lines = [
        "# Settings",
        "",
        f"<!-- Generated by `{REGENERATE}` from dealwatch/settings.py: edit the fields there, not this file. -->",
        "",
        "Every setting is a field of `dealwatch.settings.Settings` and is set with an environment variable",
        "`DEALWATCH_<FIELD>`; an empty variable means the default, and `~` in a path is your home folder. A value",
        "that cannot work stops every command at start with one line naming the variable, e.g.",
        "`error: DEALWATCH_ES_PORT='lots' is not a valid integer, unable to parse string as an integer`.",
        "The most useful settings are in the [README](../README.md#configuration); the commands are in",
        "[cli.md](cli.md). In Python, `load_settings(env=None, **overrides)` reads them (keywords win over the",
        "environment) and `settings.replace(**changes)` makes a validated copy; a crawl's child processes get",
        "exactly the parent's settings through `settings.as_environment()`.",
        "",
        " · ".join(f"[{title}](#{_slug(title)})" for title in [*by_group, "Other environment variables"]),
        "",
    ]
    for title, names in by_group.items():
        lines += [f"## {title}", "", "| variable | type | default | what it does |", "|---|---|---|---|"]
        for name in names:
            field = Settings.model_fields[name]
            lines.append(f"| `{env_name(name)}` | {_cell(type_label(field))} | {_cell(default_label(field))} | "
                         f"{_cell(field.description or '')} |")
        lines.append("")
    lines += ["## Other environment variables", "",
              "Not settings: the tests and benchmarks read these directly.", "",
              "| variable | what it does |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(text)} |" for name, text in sorted(OTHER_VARIABLES.items())]
    return "\n".join(lines) + "\n"


# --- docs/cli.md ---------------------------------------------------------------------------

def commands(group: click.Command | None = None) -> Iterator[tuple[list[str], click.Command]]:
    """Every command as (path of names from ``dealwatch``, command), the group first, names sorted."""
    if group is None:
        from dealwatch.cli import main as group
    yield from _walk(group, ["dealwatch"])


def _subcommand(group: click.Group, name: str) -> click.Command:
    """A group's command by name (the top group loads its commands on demand)."""
    found = group.get_command(click.Context(group), name)
    assert found is not None, name
    return found


def _walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(click.Context(command))):
            yield from _walk(_subcommand(command, name), [*path, name])


def help_text(path: list[str], command: click.Command, root: click.Command | None = None) -> str:
    """What ``dealwatch … --help`` prints in an 80-column terminal (without running any callback)."""
    if root is None:
        from dealwatch.cli import main as root
    ctx = click.Context(root, info_name=path[0], terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
    current = root
    for name in path[1:]:
        current = _subcommand(current, name)  # type: ignore[arg-type]
        ctx = click.Context(current, parent=ctx, info_name=name)
    return current.get_help(ctx)


def cli_markdown(root: click.Command | None = None) -> str:
    if root is None:
        from dealwatch.cli import main as root
    found = list(commands(root))
    lines = [
        "# Command line",
        "",
        f"<!-- Generated by `{REGENERATE}` from the commands' docstrings and option help: edit those, "
        "not this file. -->",
        "",
        "Every `dealwatch` command with its `--help`. Options that are not given fall back to the settings",
        "(environment variables `DEALWATCH_*`, see [settings.md](settings.md)); the README's",
        "[table of commands](../README.md#what-it-does) says in a line what each is for.",
        "",
    ]
    for path, _ in found:
        title = " ".join(path)
        lines.append(f"{'  ' * (len(path) - 1)}- [`{title}`](#{_slug(title)})")
    lines.append("")
    for path, command in found:
        text = help_text(path, command, root)
        _machine_free(" ".join(path), text)
        lines += [f"## `{' '.join(path)}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


def _machine_free(title: str, text: str) -> None:
    """Refuse help that would make the docs differ between checkouts or machines (a local default path)."""
    for local in (str(REPO_ROOT), str(default_data_dir()), str(default_cache_dir())):
        if local in text:
            raise ValueError(f"`{title} --help` shows the local path {local}: give that option a "
                             f"show_default= text so the generated docs are the same everywhere")


# --- writing and checking ------------------------------------------------------------------

def generated() -> dict[Path, str]:
    """Each generated file and the text the code gives it now."""
    return {SETTINGS_DOC: settings_markdown(), CLI_DOC: cli_markdown()}


def out_of_date() -> list[Path]:
    return [path for path, text in generated().items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dealwatch.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only report files that differ; exit 1 if any.")
    args = parser.parse_args(argv)
    stale = out_of_date()
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO_ROOT)} is out of date: run `{REGENERATE}`")
        return 1 if stale else 0
    for path, text in generated().items():
        if path in stale:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    if not stale:
        print("docs/settings.md and docs/cli.md are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
