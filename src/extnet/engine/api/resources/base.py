"""What every API collection is made of: a request context and a Collection base class.

A collection serves ``/{name}`` (list, add), ``/{name}/{id}`` (get, update, remove), actions at
``/{name}/{id}/{action}`` and nested collections at ``/{name}/{id}/{sub}``. ``parents`` carries the ids of the
enclosing entities, outermost first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from extnet.engine.api.schema import TYPES, TypeDef
from extnet.engine.api.search import Matcher, compile_search
from extnet.engine.auth import Principal
from extnet.engine.errors import BadRequest, MethodNotAllowed
from extnet.engine.services import EngineServices

Entity = dict[str, Any]
MAX_RESULTS = 2**31 - 1  # oVirt's max is a Java int


@dataclass
class Ctx:
    """Everything a request handler may use.

    ``db`` is the request's transaction. Operations listed in a collection's ``self_managed`` get none (they call
    providers or hosts, which must never happen while a write transaction holds locks): they open short ones
    with ``database.transaction()`` around their remote calls."""

    session: Session | None
    principal: Principal
    query: QueryParams
    services: Any = None  # EngineServices
    database: Any = None  # store.db.Database
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> Session:
        if self.session is None:
            raise RuntimeError("this operation manages its own transactions: use ctx.database.transaction()")
        return self.session

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        if value is None:
            return default
        if value.lower() in ("true", "1", ""):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise BadRequest(f"Query parameter '{name}' must be true or false, not '{value}'")

    def max_results(self) -> int | None:
        value = self.query.get("max")
        if value is None or value == "-1":
            return None
        text = value.strip()
        if not text.removeprefix("-").isdecimal():
            raise BadRequest(f"Query parameter 'max' must be a number, not '{value[:40]}'")
        if text.startswith("-"):
            raise BadRequest("Query parameter 'max' must not be negative")
        if len(text) > 10 or int(text) > MAX_RESULTS:
            raise BadRequest(f"Query parameter 'max' must be at most {MAX_RESULTS}")
        return int(text)


class Collection:
    """Base of every collection; override what the collection supports."""

    type_name: ClassVar[str]
    subs: ClassVar[dict[str, type[Collection]]] = {}
    actions: ClassVar[Sequence[str]] = ()
    search_fields: ClassVar[dict[str, Matcher] | None] = None  # None: no ?search= on this collection
    # operations that run without the request transaction: "list_", "add", "get", "update", "remove", "action:NAME"
    self_managed: ClassVar[frozenset[str]] = frozenset()
    what: ClassVar[str] = "entity"  # how faults name this kind of object
    id_kind: ClassVar[str] = "uuid"  # what an entity id looks like: "uuid", or "int" (e.g. events)
    required_on_add: ClassVar[tuple[str, ...]] = ()  # the fields an add needs (required in the document)
    list_parameters: ClassVar[dict[str, dict[str, Any]]] = {}  # query parameters of a list beyond max and search

    @classmethod
    def tdef(cls) -> TypeDef:
        return TYPES[cls.type_name]

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        raise MethodNotAllowed(f"Listing is not supported on this {self.what} collection")

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        raise MethodNotAllowed(f"Adding is not supported on this {self.what} collection")

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        raise MethodNotAllowed(f"Reading a single {self.what} is not supported")

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        raise MethodNotAllowed(f"Updating a {self.what} is not supported")

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        raise MethodNotAllowed(f"Removing a {self.what} is not supported")

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        raise MethodNotAllowed(f"Action '{name}' is not supported on {self.what}")

    # helpers for subclasses

    def apply_search(self, ctx: Ctx, stmt: Select[Any], sort_columns: dict[str, Any]) -> Select[Any]:
        """Apply ``?search=`` and ``?max=`` to ``stmt``."""
        text = ctx.query.get("search")
        if text and text.strip():
            if self.search_fields is None:
                raise BadRequest(f"The {self.what} collection does not support search")
            clause, sort = compile_search(text, self.search_fields, ctx.flag("case_sensitive", True))
            if clause is not None:
                stmt = stmt.where(clause)
            if sort is not None:
                column = sort_columns.get(sort.field)
                if column is None:
                    raise BadRequest(
                        f"Cannot sort by '{sort.field}'; sortable fields: {', '.join(sorted(sort_columns))}"
                    )
                stmt = stmt.order_by(None).order_by(column.desc() if sort.descending else column.asc())
        limit = ctx.max_results()
        if limit is not None:
            stmt = stmt.limit(limit)
        return stmt


def completed(extra: Entity | None = None) -> Entity:
    """The body of a completed action."""
    return {"status": "complete", **(extra or {})}


def services_of(ctx: Ctx) -> EngineServices:
    services = ctx.services
    assert isinstance(services, EngineServices)
    return services
