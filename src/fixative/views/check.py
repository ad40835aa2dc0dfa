"""Checking a view's SQL with sqlglot: one read-only SELECT over the datastack's annotation
tables, as their flat version tables hold them.

What passes: ``SELECT`` (with joins, subqueries, ``WITH``, ``UNION``/``INTERSECT``/``EXCEPT``,
``GROUP BY``/``HAVING``, ``ORDER BY``, ``LIMIT``) naming only known tables and their flat columns
(``fixative.query.columns.flat_columns``), calling only the functions of ``ALLOWED_FUNCTIONS``.
What is refused, with a message naming it: anything that does not parse, more than one
statement, any other statement kind (DDL, DML, ``SELECT ... INTO``, ``FOR UPDATE``), comments
(they could hide text from a reader, and no definition needs them), bind parameters, unknown
tables or columns, other functions (``pg_sleep``, ``random``, ...), output columns without a
name, with a duplicate name, or of a type that cannot be inferred.

The checked query is kept fully qualified (every column with its table, ``*`` expanded), so it
compiles to either backend's dialect and reads the same columns there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from fixative.errors import InvalidInput
from fixative.query.columns import Kind, TableColumns

READ_DIALECT = "postgres"  # views are written as PostgreSQL; SQLite gets a translation
MAX_SQL_CHARS = 20_000
OUTPUT_NAME_MAX = 63
SQL_TYPE_OF_KIND: dict[str, str] = {
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "str": "TEXT",
    "bool": "BOOLEAN",
}
ALLOWED_FUNCTIONS: dict[type, str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Min: "min",
    exp.Max: "max",
    exp.Avg: "avg",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Cast: "cast",
    exp.Case: "case",
    exp.If: "if",
    exp.Abs: "abs",
    exp.Round: "round",
    exp.Floor: "floor",
    exp.Ceil: "ceil",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Length: "length",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Exists: "exists",
    exp.RegexpLike: "~",
}
REFUSED_NODES: tuple[type, ...] = (
    exp.DML,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Placeholder,
    exp.Parameter,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Set,
    exp.Pragma,
    exp.Copy,
    exp.Use,
    exp.Window,
)
QUERY_KINDS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
SOURCE_MARK = "fixative_source_"  # stands for a table read from a derived table (see compiled)


@dataclass(frozen=True)
class ViewColumn:
    name: str
    kind: Kind


@dataclass(frozen=True)
class CheckedView:
    """A checked definition: the tables it reads (sorted by name), its output columns and
    the qualified query (PostgreSQL syntax) that ``compiled`` translates."""

    tables: tuple[str, ...]
    columns: tuple[ViewColumn, ...]
    query: exp.Expression

    def compiled(self, dialect: str, sources: Mapping[str, str] | None = None) -> str:
        """The query in ``"postgresql"`` or ``"sqlite"`` syntax; ``sources``: SQL (in that
        dialect, from metadata only) to read in place of some tables."""
        target = "postgres" if dialect == "postgresql" else dialect
        if not sources:
            return self.query.sql(dialect=target)
        query = self.query.copy()
        ctes = {c.alias_or_name for c in query.find_all(exp.CTE)}
        marks: dict[str, str] = {}
        for table in list(query.find_all(exp.Table)):
            if table.name in sources and table.name not in ctes:
                mark = marks.setdefault(table.name, f"{SOURCE_MARK}{len(marks)}")
                table.set("this", exp.to_identifier(mark, quoted=True))
        text = query.sql(dialect=target)
        for name, mark in marks.items():
            text = text.replace(f'"{mark}"', f"({sources[name]})")
        return text


def check_view_sql(sql: object, known: Mapping[str, TableColumns]) -> CheckedView:
    """Parse and check ``sql`` against the tables in ``known`` (name -> flat columns)."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("a view needs its SQL: one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInput(f"a view's SQL may be at most {MAX_SQL_CHARS} characters")
    if "\x00" in sql:
        raise InvalidInput("a view's SQL may not hold a NUL character")
    if SOURCE_MARK in sql.lower():
        raise InvalidInput(f"view SQL may not contain {SOURCE_MARK!r} (reserved)")
    _refuse_comments(sql)
    tree = _one_statement(sql)
    _refuse_nodes(tree)
    tables = _tables_read(tree, known)
    schema: dict[str, object] = {
        name: {c.name: SQL_TYPE_OF_KIND[c.kind] for c in known[name].columns} for name in tables
    }
    try:
        qualified = qualify(
            tree.copy(),
            schema=schema,
            dialect=READ_DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
        typed = annotate_types(qualified, schema=schema, dialect=READ_DIALECT)
    except OptimizeError as exc:
        raise InvalidInput(f"view SQL: {_first_line(exc)}") from None
    except SqlglotError as exc:
        raise InvalidInput(f"view SQL cannot be checked: {_first_line(exc)}") from None
    assert isinstance(typed, exp.Query)
    return CheckedView(tables, _output_columns(typed), typed)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _refuse_comments(sql: str) -> None:
    try:
        tokens = sqlglot.tokenize(sql, read=READ_DIALECT)
    except (TokenError, SqlglotError) as exc:
        raise InvalidInput(f"view SQL does not parse: {_first_line(exc)}") from None
    bare = _outside_strings(sql)
    if any(t.comments for t in tokens) or "--" in bare or "/*" in bare:
        raise InvalidInput("view SQL may not contain comments (-- or /* */)")


def _outside_strings(sql: str) -> str:
    """``sql`` with the text of single-quoted literals removed."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            continue
        if not quoted:
            out.append(ch)
    return "".join(out)


def _one_statement(sql: str) -> exp.Expression:
    try:
        parsed = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
    except (ParseError, TokenError) as exc:
        raise InvalidInput(f"view SQL does not parse: {_first_line(exc)}") from None
    if len(parsed) != 1:
        raise InvalidInput(
            f"view SQL must be exactly one SELECT statement, not {len(parsed)} statements"
        )
    tree = parsed[0]
    if not isinstance(tree, QUERY_KINDS):
        kind = tree.key.upper()
        raise InvalidInput(f"view SQL must be a SELECT statement, not {kind}")
    return tree


def _refuse_nodes(tree: exp.Expression) -> None:
    for node in tree.walk():
        if isinstance(node, REFUSED_NODES):
            what = "window functions (OVER)" if isinstance(node, exp.Window) else node.key.upper()
            raise InvalidInput(f"view SQL may not contain {what}: only a read-only SELECT")
        if isinstance(node, exp.Func) and not _allowed(node):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            allowed = ", ".join(sorted(set(ALLOWED_FUNCTIONS.values())))
            raise InvalidInput(
                f"view SQL calls function {name.lower()!r}, which is not allowed; "
                f"allowed: {allowed}"
            )
        if isinstance(node, exp.Table) and (node.args.get("db") or node.args.get("catalog")):
            raise InvalidInput(
                f"view SQL names {node.sql(dialect=READ_DIALECT)!r}: "
                "tables are named without a schema or database"
            )


def _allowed(node: exp.Func) -> bool:
    """AND/OR are functions to sqlglot; every other function must be listed."""
    return isinstance(node, exp.Connector) or type(node) in ALLOWED_FUNCTIONS


def _tables_read(tree: exp.Expression, known: Mapping[str, TableColumns]) -> tuple[str, ...]:
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    shadowing = sorted(ctes & set(known))
    if shadowing:
        raise InvalidInput(f"view SQL's WITH names {shadowing[0]!r}, a table: choose another name")
    found: list[str] = []
    for table in tree.find_all(exp.Table):
        name = table.name
        if not name:
            raise InvalidInput("view SQL reads from something that is not a table")
        if name in ctes:
            continue
        if name not in known:
            raise InvalidInput(
                f"view SQL reads table {name!r}, which is not an annotation table of this datastack"
            )
        if name not in found:
            found.append(name)
    if not found:
        raise InvalidInput("view SQL must read at least one annotation table")
    return tuple(sorted(found))


def _kind(data_type: exp.DataType | None) -> Kind | None:
    if data_type is None:
        return None
    t = data_type.this
    if t in exp.DataType.INTEGER_TYPES:
        return "int"
    if t in exp.DataType.REAL_TYPES:
        return "float"
    if t in exp.DataType.TEXT_TYPES:
        return "str"
    if t == exp.DataType.Type.BOOLEAN:
        return "bool"
    return None


def _output_columns(query: exp.Query) -> tuple[ViewColumn, ...]:
    out: list[ViewColumn] = []
    for item in query.selects:
        name = item.alias_or_name
        if not name or name == "*":
            raise InvalidInput(f"view column {item.sql()!r} needs a name (AS ...)")
        if len(name) > OUTPUT_NAME_MAX:
            raise InvalidInput(f"view column name {name[:40]!r}... is too long")
        if any(c.name == name for c in out):
            raise InvalidInput(f"view column {name!r} appears twice: give each column its own name")
        kind = _kind(item.type)
        if kind is None:
            shown = item.type.sql() if item.type is not None else "unknown"
            raise InvalidInput(
                f"view column {name!r} has type {shown}, which a view cannot return; "
                "CAST it to BIGINT, DOUBLE PRECISION, TEXT or BOOLEAN"
            )
        out.append(ViewColumn(name, kind))
    return tuple(out)
