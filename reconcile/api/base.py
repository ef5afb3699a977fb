"""What all endpoint groups share: the HTTP core and the cursor-paging loop; no endpoints."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from reconcile.api.http import Call, HttpCore
from reconcile.api.models import WireModel
from reconcile.errors import ApiProtocolError

PAGE_LIMIT = 5000


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


PageT = TypeVar("PageT", bound=WireModel)
ModelT = TypeVar("ModelT", bound=WireModel)
ItemT = TypeVar("ItemT", bound=_HasId)


class EndpointGroup:
    """Base of the endpoint mixins; RunloopClient sets `_http` and `_page_limit`."""

    _http: HttpCore
    _page_limit: int = PAGE_LIMIT

    async def _list_all(
        self,
        route: str,
        page_model: type[PageT],
        items_of: Callable[[PageT], Sequence[ItemT]],
        params: Mapping[str, str] | None = None,
    ) -> list[ItemT]:
        """Every item of a cursor-paged list (limit=5000, no total count, `starting_after`)."""
        found: list[ItemT] = []
        cursor: str | None = None
        while True:
            query = {**(params or {}), "limit": str(self._page_limit)}
            query["include_total_count"] = "false"
            if cursor is not None:
                query["starting_after"] = cursor
            page = await self._http.send_model(Call("GET", route, params=query), page_model)
            items = items_of(page)
            found.extend(items)
            if not items or not getattr(page, "has_more", False):
                return found
            if items[-1].id == cursor:
                raise ApiProtocolError(
                    "the list did not advance past its cursor", method="GET", path=route
                )
            cursor = items[-1].id

    async def _update_name_and_metadata(
        self,
        route: str,
        resource_id: str,
        model: type[ModelT],
        *,
        name: str | None,
        metadata: Mapping[str, str] | None,
    ) -> ModelT:
        """POST the fields given (an omitted one stays) to a resource's update `route`; the
        resource as the API now has it."""
        body = drop_none(name=name, metadata=dict(metadata) if metadata is not None else None)
        call = Call("POST", route, {"id": resource_id}, body=body)
        return await self._http.send_model(call, model)


def drop_none(**fields: object) -> dict[str, object]:
    """A request body with only the fields the caller gave (the API treats absent as unchanged)."""
    return {name: value for name, value in fields.items() if value is not None}
