"""``fixative config``: the settings in effect, as TOML (secrets in URLs masked), with the file
they came from and the ``FIXATIVE_*`` variables that overrode it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import click

from fixative.cli.context import Context, pass_ctx
from fixative.config import Settings, SettingsSources, redact, settings_sources


def register(cli: click.Group) -> None:
    """``fixative config``."""

    @cli.command("config")
    @pass_ctx
    def config(ctx: Context) -> None:
        """Show the settings in effect (TOML), the file they came from and the environment
        variables that overrode it. Passwords in URLs are masked."""
        settings = ctx.settings  # a bad setting stops here, naming its key
        sources = settings_sources(ctx.config_path)
        for line in describe(settings, sources):
            click.echo(line)


def describe(settings: Settings, sources: SettingsSources) -> Iterator[str]:
    """Comment lines naming the sources, then the settings as TOML."""
    if sources.path is None:
        yield "# no settings file: defaults and FIXATIVE_* environment"
    else:
        yield f"# settings file: {sources.path.resolve()} ({sources.chosen_by})"
    env = {_field_of(name): name for name in sources.environment}
    if env:
        over = " (over the file)" if sources.path is not None else ""
        yield f"# from the environment{over}: {', '.join(sorted(env.values()))}"
    yield f"# live database: {redact(settings.live_database_url)}"
    values = settings.model_dump(mode="json")
    tables = {k: v for k, v in values.items() if _is_table_list(v)}
    for key, value in values.items():
        if key not in tables and value is not None:
            note = f"  # {env[key]}" if key in env else ""
            yield f"{key} = {_toml(value)}{note}"
    for key, rows in tables.items():
        for row in rows:
            yield from _table(key, row)


def _field_of(variable: str) -> str:
    return variable.split("_", 1)[1].lower().split("__")[0]


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(name: str, row: Mapping[str, Any]) -> Iterator[str]:
    yield ""
    yield f"[[{name}]]"
    nested = {k: v for k, v in row.items() if _is_table_list(v)}
    for key, value in row.items():
        if key not in nested and value is not None and value != []:
            yield f"{key} = {_toml(value)}"
    for key, rows in nested.items():
        for inner in rows:
            yield from _table(f"{name}.{key}", inner)


def _toml(value: Any) -> str:
    """A TOML value: strings (masked) as basic strings, which JSON's escapes are valid in."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(redact(str(value)))
