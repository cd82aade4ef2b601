"""The users `$filter` parser: the OData subset the stand-in understands, as user predicates.

A recursive-descent parser over `eq`/`ne`/`in`, `startsWith`/`endsWith`, `any` lambdas on
collections, `not`, `and`/`or` and parentheses. It also remembers the first *advanced*
construct it met (`ne`, `not`, `endsWith`), which Graph only serves with
`ConsistencyLevel: eventual` and `$count=true`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.graph.rules.problems import Problem, bad_request
from devstack.graph.rules.user_properties import USER_COLLECTIONS, USER_FIELDS

UserPredicate = Callable[[Any], bool]
"""Whether a directory user (a `DirectoryUser`) matches."""
Comparison = Callable[[Any, Any], bool]
"""A test of a user's value (left) against a literal (right)."""

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),:/])|(?P<word>[A-Za-z0-9_.+-]+))"
)


@dataclass(frozen=True, slots=True)
class UserFilter:
    """A parsed `$filter` on users: the predicate, and the first advanced construct it uses."""

    predicate: UserPredicate
    advanced: str | None


def parse_user_filter(text: str) -> UserFilter | Problem:
    """Parse a users `$filter` into a predicate over directory users.

    Supports `eq`, `in`, `startsWith`, `any` lambdas on proxyAddresses/otherMails, `and`/`or`,
    and the advanced constructs `ne`, `not`, `endsWith` (reported in `UserFilter.advanced`).
    String comparisons are case-insensitive; `''` inside a literal is one quote.
    """
    try:
        parser = _FilterParser(text)
        predicate = parser.parse()
    except _FilterSyntaxError as exc:
        return bad_request(f"Invalid filter clause: {exc}")
    return UserFilter(predicate, parser.advanced)


def all_of(predicates: Iterable[UserPredicate]) -> UserPredicate:
    """A predicate true when every one of `predicates` is."""
    parts = list(predicates)
    return lambda user: all(p(user) for p in parts)


def any_of(predicates: Iterable[UserPredicate]) -> UserPredicate:
    """A predicate true when one of `predicates` is."""
    parts = list(predicates)
    return lambda user: any(p(user) for p in parts)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _equals(left: Any, right: Any) -> bool:
    return bool(_fold(left) == _fold(right))


def _differs(left: Any, right: Any) -> bool:
    return not _equals(left, right)


def _starts(left: Any, right: Any) -> bool:
    return isinstance(left, str) and isinstance(right, str) and _fold(left).startswith(_fold(right))


def _ends(left: Any, right: Any) -> bool:
    return isinstance(left, str) and isinstance(right, str) and _fold(left).endswith(_fold(right))


_STRING_FUNCTIONS: Mapping[str, Comparison] = {"startswith": _starts, "endswith": _ends}
_OPERATORS: Mapping[str, Comparison] = {"eq": _equals, "ne": _differs}


class _FilterSyntaxError(Exception):
    pass


def _field_getter(name: str) -> Callable[[Any], Any]:
    attribute = USER_FIELDS.get(name)
    if attribute is None:
        raise _FilterSyntaxError(
            f"Could not find a property named '{name}' on type 'microsoft.graph.user'"
        )
    return lambda user: getattr(user, attribute)


class _FilterParser:
    """Recursive descent over the OData subset the stand-in understands."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            if found is None or found.end() == position:
                raise _FilterSyntaxError(f"unexpected character at position {position}")
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
            position = found.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.index = 0
        self.advanced: str | None = None

    # -- tokens ----------------------------------------------------------------------------

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _FilterSyntaxError("unexpected end of expression")
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        _, text = self.next()
        if text.lower() != value.lower():
            raise _FilterSyntaxError(f"expected '{value}', found '{text}'")

    def keyword(self, *values: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() in values:
            self.index += 1
            return token[1].lower()
        return None

    def mark_advanced(self, construct: str) -> None:
        if self.advanced is None:
            self.advanced = construct

    def literal(self) -> Any:
        kind, text = self.next()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        if kind == "word" and re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text) if "." in text else int(text)
        raise _FilterSyntaxError(f"expected a literal, found '{text}'")

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> UserPredicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise _FilterSyntaxError(f"unexpected '{self.next()[1]}'")
        return predicate

    def or_expr(self) -> UserPredicate:
        parts = [self.and_expr()]
        while self.keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else any_of(parts)

    def and_expr(self) -> UserPredicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else all_of(parts)

    def unary(self) -> UserPredicate:
        if self.keyword("not"):
            self.mark_advanced("not")
            inner = self.unary()
            return lambda user: not inner(user)
        token = self.peek()
        if token is not None and token[1] == "(":
            self.next()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.primary()

    def function(self, name: str, variable: str | None = None) -> tuple[str, Comparison, Any]:
        """`startsWith(field, 'x')` / `endsWith(...)`: the field (or variable), test, literal."""
        if name == "endswith":
            self.mark_advanced("endsWith")
        self.expect("(")
        kind, subject = self.next()
        if kind != "word":
            raise _FilterSyntaxError(f"expected a property, found '{subject}'")
        if variable is not None and subject != variable:
            raise _FilterSyntaxError(f"unknown lambda variable '{subject}'")
        self.expect(",")
        value = self.literal()
        self.expect(")")
        return subject, _STRING_FUNCTIONS[name], value

    def comparison(self, operator: str) -> tuple[Comparison, Any]:
        """The test and literal after `eq` or `ne` (`ne` is an advanced construct)."""
        if operator == "ne":
            self.mark_advanced("ne")
        return _OPERATORS[operator], self.literal()

    def primary(self) -> UserPredicate:
        kind, name = self.next()
        if kind != "word":
            raise _FilterSyntaxError(f"expected a property, found '{name}'")
        if name.lower() in _STRING_FUNCTIONS:
            field_name, test, value = self.function(name.lower())
            getter = _field_getter(field_name)
            return lambda user: test(getter(user), value)
        token = self.peek()
        if token is not None and token[1] == "/":
            return self.any_lambda(name)
        getter = _field_getter(name)
        operator = self.keyword("eq", "ne", "in")
        if operator is None:
            raise _FilterSyntaxError(f"expected eq, ne or in after '{name}'")
        if operator == "in":
            self.expect("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek() == ("punct", ","):
                self.next()
                values.append(self.literal())
            self.expect(")")
            folded = {_fold(v) for v in values}
            return lambda user: _fold(getter(user)) in folded
        test, value = self.comparison(operator)
        return lambda user: test(getter(user), value)

    def any_lambda(self, collection: str) -> UserPredicate:
        attribute = USER_COLLECTIONS.get(collection)
        if attribute is None:
            raise _FilterSyntaxError(f"'{collection}' is not a collection property of user")
        self.expect("/")
        self.expect("any")
        self.expect("(")
        kind, variable = self.next()
        if kind != "word":
            raise _FilterSyntaxError("expected a lambda variable")
        self.expect(":")
        kind, subject = self.next()
        if subject.lower() in _STRING_FUNCTIONS:
            _, test, value = self.function(subject.lower(), variable)
        else:
            if subject != variable:
                raise _FilterSyntaxError(f"unknown lambda variable '{subject}'")
            operator = self.keyword("eq", "ne")
            if operator is None:
                raise _FilterSyntaxError("expected eq in the lambda")
            test, value = self.comparison(operator)
        self.expect(")")
        return lambda user: any(test(v, value) for v in getattr(user, attribute))
