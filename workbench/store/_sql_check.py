"""What ``sql()`` lets run: queries, whatever DuckDB's parser calls a statement.

Two checks, both on DuckDB's own parse of the text, never on words in it:

1. every statement is a ``SELECT`` (``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``FROM x``, ``VALUES``
   and ``PIVOT ... IN (...)`` parse as one) or an ``EXPLAIN`` of one; anything else (``INSTALL``,
   ``LOAD``, ``ATTACH``, ``COPY``, ``SET``, ``PRAGMA``, ``CALL``, ``CREATE SECRET`` ...) is refused,
   and so is a statement this DuckDB's Python API has no name for;
2. the parse tree of each ``SELECT`` holds only query nodes: DuckDB calls
   ``WITH x AS (DELETE ... RETURNING *) SELECT ...`` or ``WITH x AS (COPY ... TO 'f') SELECT ...``
   a ``SELECT`` statement, yet it deletes or writes a file.

Which files a query may read is DuckDB's own business, set on the connection (``_duckdb.py``).
"""

from __future__ import annotations

import json
from typing import Any

from workbench.errors import QueryError

__all__ = ["check_read_only"]

_STATEMENTS = {"SELECT", "EXPLAIN"}
# query nodes a read-only query is made of; INSERT_, UPDATE_, DELETE_, MERGE_INTO_ and
# COPY_QUERY_NODE (and any kind a later DuckDB adds) are refused
_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
_HINT = "use SELECT over the views runs, params, summaries and metrics"


def check_read_only(con: Any, query: str) -> None:
    """Raise :class:`QueryError` unless every statement of ``query`` only reads.

    ``con`` is any DuckDB connection (it parses the text with ``json_serialize_sql``).
    """
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"the SQL does not parse: {exc}") from exc
    if not statements:
        raise QueryError("sql() needs a query, e.g. \"select status, count(*) from runs group by 1\"")
    for statement in statements:
        try:
            kind = str(statement.type).rsplit(".", 1)[-1]
        except ValueError as exc:  # UPDATE EXTENSIONS: "29 is not a valid StatementType"
            raise QueryError(f"sql() is read-only: a statement of a kind this DuckDB's Python API "
                             f"cannot name is not allowed ({exc}); {_HINT}") from exc
        if kind == "EXPLAIN":
            check_read_only(con, _explained(statement.query))
        elif kind == "MULTI":  # PIVOT without IN (...) first creates an ENUM type of the values
            raise QueryError("sql() is read-only: this statement runs more than one statement (a PIVOT "
                             "without IN creates a type first); list the values: PIVOT ... ON col IN "
                             "('a', 'b') USING ...")
        elif kind not in _STATEMENTS:
            raise QueryError(f"sql() is read-only: a {kind} statement is not allowed; {_HINT}")
        else:
            _check_nodes(con, statement.query)


def _check_nodes(con: Any, text: str) -> None:
    """Refuse a SELECT whose parse tree holds a node that is no query (DML or COPY in a WITH)."""
    row = con.execute("SELECT json_serialize_sql($query)", {"query": text}).fetchone()
    tree = json.loads(row[0]) if row and row[0] else {"error": True, "error_message": "no parse tree"}
    if tree.get("error"):
        raise QueryError(f"sql() could not check that this query only reads "
                         f"({tree.get('error_message')}); {_HINT}")
    found: set[str] = set()
    _node_types(tree, found)
    refused = sorted(found - _NODES)
    if refused:
        kinds = ", ".join(name.removesuffix("_NODE").removesuffix("_QUERY") for name in refused)
        raise QueryError(f"sql() is read-only: this SELECT holds a {kinds} statement (in a WITH "
                         f"clause); {_HINT}")


def _node_types(value: Any, found: set[str]) -> None:
    """Every ``"type": "..._NODE"`` in the parse tree (query nodes; expressions and tables are not)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            kind = item.get("type")
            if isinstance(kind, str) and kind.endswith("_NODE"):
                found.add(kind)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _explained(text: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE] [(options)] ...`` statement explains."""
    import duckdb

    tokens = [start for start, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]
    ends = [*tokens[1:], len(text)]
    depth = 0
    for start, end in zip(tokens[1:], ends[1:], strict=True):  # tokens[0] is EXPLAIN
        word = text[start:end].strip()
        depth += word.count("(") - word.count(")")
        if depth > 0 or word.upper() in ("ANALYZE", "ANALYSE") or word.endswith(")"):
            continue
        return text[start:]
    raise QueryError(f"sql() cannot tell what this EXPLAIN explains: {text!r}")
