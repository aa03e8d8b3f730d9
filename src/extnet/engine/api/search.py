"""oVirt's search language, the part clients use, compiled to SQL.

    query  := or ; or := and ("or" and)* ; and := term ("and" term)*
    term   := "(" or ")" | field op value       op: = != < > <= >=
    value  := "quoted text" | bare-text         "*" is a wildcard in = and !=

An optional trailing ``sortby <field> [asc|desc]`` orders the result. An unknown field is a 400 fault that lists
the fields the collection knows: a typo must never match everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_

from extnet.engine.errors import BadRequest

Clause = ColumnElement[bool]
# Builds a clause for one comparison: (op, value, case_sensitive) -> clause
Matcher = Callable[[str, str, bool], Clause]

_TOKEN = re.compile(
    r"""\s*(?:(?P<lpar>\()|(?P<rpar>\))|(?P<op><=|>=|!=|=|<|>)|"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<word>[^\s()=!<>"]+))"""
)


# Bounds that keep parsing and the generated SQL small (SQLite refuses expressions deeper than 1000)
MAX_TERMS = 64
MAX_NESTING = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Token:
    kind: str  # lpar rpar op quoted word
    text: str


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    query = query.rstrip()
    control = _CONTROL.search(query)
    if control:
        raise BadRequest(f"Search query contains a control character at position {control.start()}")
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            raise BadRequest(f"Cannot parse search query '{query}' at position {pos}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "quoted":
            text = re.sub(r"\\(.)", r"\1", text)
        tokens.append(Token(kind, text))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class SortBy:
    field: str
    descending: bool


def column_matcher(column: Any, kind: str = "str") -> Matcher:
    """A matcher comparing one column; ``kind`` is "str", "int" or "bool"."""

    def match(op: str, value: str, case_sensitive: bool) -> Clause:
        if kind == "int":
            try:
                number: Any = int(value) if len(value) <= 20 else None
            except ValueError:
                number = None
            if number is None or not -(2**63) <= number < 2**63:
                raise BadRequest(f"Search value '{value}' must be a number")
            return _compare(column, op, number)
        if kind == "bool":
            if value.lower() not in ("true", "false"):
                raise BadRequest(f"Search value '{value}' must be true or false")
            return _compare(column, op, value.lower() == "true")
        return string_match(column, op, value, case_sensitive)

    return match


def string_match(column: Any, op: str, value: str, case_sensitive: bool) -> Clause:
    target: Any = column if case_sensitive else func.lower(column)
    text = value if case_sensitive else value.lower()
    if "*" in text and op in ("=", "!="):
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
        clause: Clause = target.like(pattern, escape="\\")
        return not_(clause) if op == "!=" else clause
    return _compare(target, op, text)


def _compare(column: Any, op: str, value: Any) -> Clause:
    ops: dict[str, Callable[[Any, Any], Clause]] = {
        "=": lambda c, v: c == v,
        "!=": lambda c, v: c != v,
        "<": lambda c, v: c < v,
        ">": lambda c, v: c > v,
        "<=": lambda c, v: c <= v,
        ">=": lambda c, v: c >= v,
    }
    return ops[op](column, value)


class _Parser:
    def __init__(self, query: str, fields: dict[str, Matcher], case_sensitive: bool) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.pos = 0
        self.fields = {name.lower(): matcher for name, matcher in fields.items()}
        self.names = sorted(fields)
        self.case_sensitive = case_sensitive
        self.terms = 0
        self.nesting = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise BadRequest(f"Search query '{self.query}' ends too early")
        self.pos += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() == word

    def parse(self) -> tuple[Clause | None, SortBy | None]:
        clause = None if self.is_word("sortby") or self.peek() is None else self.parse_or()
        sort = self.parse_sortby() if self.is_word("sortby") else None
        if self.peek() is not None:
            raise BadRequest(f"Unexpected '{self.take().text}' in search query '{self.query}'")
        return clause, sort

    def parse_sortby(self) -> SortBy:
        self.take()
        field = self.take().text
        descending = False
        if self.is_word("desc") or self.is_word("asc"):
            descending = self.take().text.lower() == "desc"
        return SortBy(field.lower(), descending)

    def parse_or(self) -> Clause:
        clauses = [self.parse_and()]
        while self.is_word("or"):
            self.take()
            clauses.append(self.parse_and())
        return clauses[0] if len(clauses) == 1 else or_(*clauses)

    def parse_and(self) -> Clause:
        clauses = [self.parse_term()]
        while self.is_word("and"):
            self.take()
            clauses.append(self.parse_term())
        return clauses[0] if len(clauses) == 1 else and_(*clauses)

    def parse_term(self) -> Clause:
        token = self.take()
        if token.kind == "lpar":
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise BadRequest(f"Search query nests parentheses deeper than {MAX_NESTING} levels")
            clause = self.parse_or()
            if self.take().kind != "rpar":
                raise BadRequest(f"Missing ')' in search query '{self.query}'")
            self.nesting -= 1
            return clause
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise BadRequest(f"Search query has more than {MAX_TERMS} comparisons")
        if token.kind != "word":
            raise BadRequest(f"Expected a field name in search query '{self.query}', got '{token.text}'")
        matcher = self.fields.get(token.text.lower())
        if matcher is None:
            raise BadRequest(
                f"Unknown search field '{token.text}' in '{self.query}'; this collection can be searched by: "
                + ", ".join(self.names)
            )
        op = self.take()
        if op.kind != "op":
            raise BadRequest(f"Expected an operator after '{token.text}' in search query '{self.query}'")
        value = self.take()
        if value.kind not in ("word", "quoted"):
            raise BadRequest(f"Expected a value after '{token.text}{op.text}' in search query '{self.query}'")
        return matcher(op.text, value.text, self.case_sensitive)


def compile_search(
    query: str, fields: dict[str, Matcher], case_sensitive: bool = True
) -> tuple[Clause | None, SortBy | None]:
    """Compile ``query`` into a WHERE clause (None: match all) and an optional sort order."""
    return _Parser(query, fields, case_sensitive).parse()
