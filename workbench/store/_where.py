"""The ``where`` / ``order_by`` language, compiled to parameterised DuckDB SQL.

Grammar (keywords are case-insensitive)::

    expr     := or_expr
    or_expr  := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | atom
    atom     := "(" expr ")"
              | operand OP operand                 OP: = == != <> < <= > >=
              | operand ["not"] "in" "(" literal ("," literal)* ")"
              | operand ["not"] "contains" literal
              | operand "is" ["not"] "null"
    operand  := field | literal
    field    := "config." path | "summary." path | RUN_FIELD
    path     := name ("." name)*                   name: [A-Za-z_][A-Za-z0-9_/-]* or "quoted" or `quoted`
    literal  := number | 'string' | "string" | true | false | null

    order_by := item ("," item)*    item := ["-"] field ["asc" | "desc"]

User text never becomes SQL text: field names map to fixed column expressions, keys and
values become parameters. A string literal compared with a time field (``created``,
``started``, ``ended``, ``heartbeat``) is read as an ISO date/time.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from typing import Any

from workbench.errors import FilterError, QueryError

__all__ = ["RUN_FIELDS", "Compiled", "Field", "compile_query", "parse_field"]

#: run fields a filter may use, and their SQL columns in the ``runs`` table
RUN_FIELDS: dict[str, str] = {
    "id": "run_id", "run_id": "run_id", "project": "project", "name": "name", "status": "status",
    "created": "created", "started": "started", "ended": "ended", "heartbeat": "heartbeat",
    "duration": "duration", "host": "host", "user": "user", "notes": "notes", "tags": "tags",
    "remote": "remote", "git_commit": "git_commit", "pid": "pid", "notebook": "notebook", "error": "error",
    "group": "group", "job_type": "job_type",
}
_TIME_FIELDS = {"created", "started", "ended", "heartbeat"}
_NUMERIC_RUN_FIELDS = _TIME_FIELDS | {"duration", "pid"}
#: parentheses and "not"s a filter may nest: far more than a person writes, far less than Python's stack
_MAX_NESTING = 100
_KEYWORDS = {"and", "or", "not", "in", "contains", "is", "null", "none", "true", "false", "asc", "desc"}
_OPS = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))(?![A-Za-z_])
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<backtick>`[^`]*`)
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),.])
  | (?P<minus>-)
  | (?P<name>[A-Za-z_][A-Za-z0-9_/\-]*)
    """,
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    value: Any = None


@dataclasses.dataclass(frozen=True)
class Field:
    """A field of a run: ``kind`` is ``config``, ``summary`` or ``run``."""

    kind: str
    name: str

    @property
    def label(self) -> str:
        return self.name if self.kind == "run" else f"{self.kind}.{self.name}"


def _unescape(text: str) -> str:
    quote, body = text[0], text[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def tokenize(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise QueryError(f"a filter or field must be a string, e.g. \"config.lr < 0.01\", not {type(text).__name__}")
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterError(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "number":
            # a sign glued to a name or ')' before it is not a sign: "a-1" never reaches here
            try:
                value: Any = int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
            except ValueError:  # pragma: no cover - the regex admits only valid numbers
                raise FilterError(f"bad number {raw!r}", text, pos) from None
            tokens.append(Token("literal", raw, pos, value))
        elif kind == "string":
            tokens.append(Token("literal", raw, pos, _unescape(raw)))
        elif kind == "backtick":
            tokens.append(Token("quoted", raw, pos, raw[1:-1]))
        elif kind == "name":
            low = raw.lower()
            if low in ("true", "false"):
                tokens.append(Token("literal", raw, pos, low == "true"))
            elif low in ("null", "none"):
                tokens.append(Token("null", raw, pos))
            elif low in _KEYWORDS:
                tokens.append(Token(low, raw, pos))
            else:
                tokens.append(Token("name", raw, pos, raw))
        elif kind in ("op",):
            tokens.append(Token("op", raw, pos, _OPS[raw]))
        elif kind in ("punct", "minus"):
            tokens.append(Token(raw, raw, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclasses.dataclass
class Compiled:
    """SQL pieces for ``SELECT ... FROM runs r {joins} WHERE {where} ORDER BY {order}``."""

    joins: list[str]
    where: str
    order: list[str]
    params: dict[str, Any]
    fields: list[Field]


class _Compiler:
    """Turns fields into joined columns and literals into named parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.joins: list[str] = []
        self._aliases: dict[tuple[str, str], str] = {}
        self.fields: list[Field] = []

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def column(self, field: Field, want: str) -> str:
        """SQL for ``field``; ``want`` is num, str, bool or any."""
        if field not in self.fields:
            self.fields.append(field)
        if field.kind == "run":
            return f'r."{RUN_FIELDS[field.name]}"'  # quoted: "group" is an SQL keyword
        key = (field.kind, field.name)
        alias = self._aliases.get(key)
        if alias is None:
            alias = f"f{len(self._aliases)}"
            self._aliases[key] = alias
            table = "_params" if field.kind == "config" else "_summaries"
            self.joins.append(
                f"LEFT JOIN {table} {alias} ON {alias}.run_id = r.run_id AND {alias}.key = {self.param(field.name)}"
            )
        return f"{alias}.{ {'num': 'num', 'str': 'str', 'bool': 'bool', 'any': 'num'}[want] }"


class _Parser:
    def __init__(self, text: str, compiler: _Compiler) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.c = compiler
        self.depth = 0  # parentheses and "not"s open at the current token

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str, token: Token | None = None) -> FilterError:
        token = token or self.tok
        return FilterError(message, self.text, token.pos)

    def take(self, kind: str) -> Token:
        token = self.tok
        if token.kind != kind:
            want = {"end": "the end of the filter", ")": "')'", "(": "'('"}.get(kind, repr(kind))
            got = "the end of the filter" if token.kind == "end" else repr(token.text)
            raise self.fail(f"expected {want}, found {got}")
        self.i += 1
        return token

    # -- fields ------------------------------------------------------------------------------------
    def field(self) -> Field | None:
        token = self.tok
        if token.kind != "name" and token.kind not in ("quoted",):
            return None
        name = token.value
        if token.kind == "name" and name.lower() in ("config", "summary") and self.tokens[self.i + 1].kind == ".":
            self.i += 2
            parts = [self.path_part()]
            while self.tok.kind == ".":
                self.i += 1
                parts.append(self.path_part())
            return Field(name.lower(), ".".join(parts))
        if token.kind == "name" and name.lower() in RUN_FIELDS:
            self.i += 1
            return Field("run", name.lower())
        hint = ""
        if token.kind == "name":
            hint = f"; did you mean config.{name} or summary.{name}?"
        raise self.fail(
            f"unknown field {token.text!r}: use config.KEY, summary.KEY or one of "
            f"{', '.join(sorted(RUN_FIELDS))}{hint}"
        )

    def path_part(self) -> str:
        token = self.tok
        if token.kind in ("name", "quoted") or (token.kind == "literal" and isinstance(token.value, str)):
            self.i += 1
            return str(token.value)
        if token.kind in _KEYWORDS or token.kind == "null":
            self.i += 1
            return token.text
        if token.kind == "literal" and isinstance(token.value, int) and not isinstance(token.value, bool):
            self.i += 1
            return token.text
        raise self.fail("expected a key name after '.'")

    def literal(self) -> tuple[Any, Token]:
        token = self.tok
        if token.kind == "literal":
            self.i += 1
            return token.value, token
        raise self.fail(
            "expected a value (a number, 'text', true, false)"
            if token.kind != "end" else "expected a value, found the end of the filter"
        )

    # -- expressions -----------------------------------------------------------------------------
    def parse(self) -> str:
        if self.tok.kind == "end":
            raise self.fail("the filter is empty")
        sql = self.or_expr()
        self.take("end")
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.tok.kind == "or":
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.not_expr()]
        while self.tok.kind == "and":
            self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def nest(self) -> None:
        """One level deeper into parentheses or "not": refused past _MAX_NESTING, before Python's stack runs out."""
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise self.fail(f"the filter nests parentheses and 'not' more than {_MAX_NESTING} levels deep; "
                            "simplify it")

    def not_expr(self) -> str:
        if self.tok.kind == "not":
            self.nest()
            self.i += 1
            # a missing key is NULL; "not" of it is true (the run lacks what was asked for)
            sql = f"(({self.not_expr()}) IS NOT TRUE)"
            self.depth -= 1
            return sql
        return self.atom()

    def atom(self) -> str:
        if self.tok.kind == "(":
            self.nest()
            self.i += 1
            sql = self.or_expr()
            self.take(")")
            self.depth -= 1
            return f"({sql})"
        start = self.tok
        field = self.field()
        if field is None:
            if start.kind == "literal":
                value, _ = self.literal()
                op_token = self.tok
                if op_token.kind != "op":
                    raise self.fail("expected a comparison operator after the value")
                self.i += 1
                other = self.field()
                if other is None:
                    raise self.fail("a comparison needs a field on one side (config.KEY, summary.KEY, status, ...)")
                return self.compare(other, _FLIP[op_token.value], value, start)
            if start.kind == "end":
                raise self.fail("expected a condition, found the end of the filter")
            raise self.fail(f"expected a field or '(', found {start.text!r}")
        token = self.tok
        if token.kind == "op":
            self.i += 1
            other = self.field()
            if other is not None:
                return f"({self.c.column(field, 'num')} {token.value} {self.c.column(other, 'num')})"
            if self.tok.kind == "null":
                raise self.fail("compare with null using 'is null' or 'is not null'")
            value, value_token = self.literal()
            return self.compare(field, token.value, value, value_token)
        negate = False
        if token.kind == "not":
            negate = True
            self.i += 1
            token = self.tok
            if token.kind not in ("in", "contains"):
                raise self.fail("expected 'in' or 'contains' after 'not'")
        if token.kind == "in":
            self.i += 1
            sql = self.membership(field)
        elif token.kind == "contains":
            self.i += 1
            sql = self.contains(field)
        elif token.kind == "is":
            self.i += 1
            is_not = False
            if self.tok.kind == "not":
                is_not = True
                self.i += 1
            self.take("null")
            column = self.c.column(field, "any") if field.kind == "run" else self._presence(field)
            return f"({column} IS {'NOT ' if is_not else ''}NULL)"
        else:
            got = "the end of the filter" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a comparison (=, !=, <, <=, >, >=, in, contains, is) after {field.label}, found {got}"
            )
        return f"(({sql}) IS NOT TRUE)" if negate else sql

    def _presence(self, field: Field) -> str:
        alias_col = self.c.column(field, "num")
        return alias_col.split(".")[0] + ".key"

    def _typed(self, field: Field, value: Any, token: Token) -> tuple[str, Any]:
        """Column and parameter value for comparing ``field`` with the literal ``value``."""
        if field.kind == "run":
            if field.name in _TIME_FIELDS and isinstance(value, str):
                return self.c.column(field, "num"), _parse_time(value, token, self)
            if field.name in _NUMERIC_RUN_FIELDS:
                if isinstance(value, (str, bool)):
                    raise self.fail(f"{field.name} is a number; compare it with a number", token)
                return self.c.column(field, "num"), value
            if field.name == "tags":
                raise self.fail("tags is a list: use tags contains 'x' or tags in ('x', 'y')", token)
            if not isinstance(value, str):
                raise self.fail(f"{field.name} is text; compare it with a quoted string", token)
            return self.c.column(field, "str"), value
        if isinstance(value, bool):
            return self.c.column(field, "bool"), value
        if isinstance(value, str):
            return self.c.column(field, "str"), value
        return self.c.column(field, "num"), float(value)

    def compare(self, field: Field, op: str, value: Any, token: Token) -> str:
        column, param = self._typed(field, value, token)
        if isinstance(param, bool) and op not in ("=", "<>"):
            raise self.fail("true and false compare only with = and !=", token)
        return f"({column} {op} {self.c.param(param)})"

    def membership(self, field: Field) -> str:
        self.take("(")
        values: list[tuple[Any, Token]] = [self.literal()]
        while self.tok.kind == ",":
            self.i += 1
            values.append(self.literal())
        self.take(")")
        if field.kind == "run" and field.name == "tags":
            checks = [f"list_contains(r.tags, {self.c.param(v)})" for v, t in values if self._text(v, t)]
            return "(" + " OR ".join(checks) + ")"
        kinds = {type(v) if not isinstance(v, (int, float)) or isinstance(v, bool) else float for v, _ in values}
        if len(kinds) > 1:
            raise self.fail("the values in an 'in' list must all be numbers or all text", values[0][1])
        typed = [self._typed(field, v, t) for v, t in values]
        column = typed[0][0]
        placeholders = ", ".join(self.c.param(p) for _, p in typed)
        return f"({column} IN ({placeholders}))"

    def _text(self, value: Any, token: Token) -> bool:
        if not isinstance(value, str):
            raise self.fail("tags are text: quote the tag", token)
        return True

    def contains(self, field: Field) -> str:
        value, token = self.literal()
        if field.kind == "run" and field.name == "tags":
            self._text(value, token)
            return f"list_contains(r.tags, {self.c.param(value)})"
        if not isinstance(value, str):
            raise self.fail("contains looks for text: quote the value", token)
        if field.kind == "run" and field.name in _NUMERIC_RUN_FIELDS:
            raise self.fail(f"{field.name} is a number; contains works on text", token)
        column = self.c.column(field, "str")
        return f"(contains(lower({column}), lower({self.c.param(value)})))"

    # -- order_by ----------------------------------------------------------------------------------
    def order(self) -> list[str]:
        items: list[str] = []
        while True:
            descending = False
            if self.tok.kind == "-":
                descending = True
                self.i += 1
            field = self.field()
            if field is None:
                raise self.fail("expected a field to sort by (e.g. -summary.acc, created desc)")
            if self.tok.kind in ("asc", "desc"):
                descending = self.tok.kind == "desc" if not descending else True
                self.i += 1
            direction = "DESC" if descending else "ASC"
            if field.kind == "run":
                items.append(f"{self.c.column(field, 'any')} {direction} NULLS LAST")
            else:
                items.append(f"{self.c.column(field, 'num')} {direction} NULLS LAST")
                items.append(f"{self.c.column(field, 'str')} {direction} NULLS LAST")
            if self.tok.kind == ",":
                self.i += 1
                continue
            self.take("end")
            return items


def _parse_time(value: str, token: Token, parser: _Parser) -> float:
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise parser.fail(
            f"{value!r} is not a date/time; write it as '2026-11-01' or '2026-11-01T12:30'", token
        ) from None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone()  # local time, as people type it
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):  # e.g. '0001-01-01' in a zone east of UTC
        raise parser.fail(f"{value!r} is outside the dates a run can have", token) from None


def parse_field(text: str) -> Field:
    """Parse one field name such as ``config.optim.lr``, ``summary."val/loss"`` or ``status``."""
    parser = _Parser(text, _Compiler())
    field = parser.field()
    if field is None:
        raise parser.fail("expected a field name")
    parser.take("end")
    return field


def compile_query(where: str | None, order_by: str | list[str] | None) -> Compiled:
    """Compile a filter and a sort order; raise :class:`FilterError` pointing at the bad token."""
    compiler = _Compiler()
    where_sql = "TRUE"
    if where is not None and (not isinstance(where, str) or where.strip()):
        where_sql = _Parser(where, compiler).parse()
    order: list[str] = []
    if order_by:
        texts = [order_by] if isinstance(order_by, str) else list(order_by)
        for text in texts:
            if not isinstance(text, str):
                raise QueryError(f"order_by items must be strings, e.g. \"-summary.acc\", not {type(text).__name__}")
            if text.strip():
                order.extend(_Parser(text, compiler).order())
    return Compiled(compiler.joins, where_sql, order, compiler.params, compiler.fields)
