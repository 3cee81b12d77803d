"""The base of the generator's streams: objects of one kind rendered from an `AccountGenerator`
by index, their ids `prefix_3{kind}...` decodable back to (stream, index)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stripe_emulator import objects
from stripe_emulator.store import Stream

if TYPE_CHECKING:
    from stripe_emulator.store import Store


class GenStream(Stream):
    prefix = ""
    kind = ""

    def __init__(self, gen: Any, n: int) -> None:
        self.gen = gen
        self.n = n

    def __len__(self) -> int:
        return self.n

    def id(self, i: int) -> str:
        return self.gen.gen_id(self.prefix, self.kind, i)


class EventStream(GenStream):
    object_type, prefix = "event", "evt"
    slots = 1
    event_types: frozenset[str] = frozenset()  # every type this stream can hold

    def __init__(self, gen: Any, n_objects: int, store: Store) -> None:
        super().__init__(gen, n_objects * self.slots)
        self.store = store

    def lower_bound(self) -> int:
        return self.bisect_created(self.store.event_floor(), right=False)

    def object_created(self, j: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def created(self, i: int) -> int:
        return self.object_created(i // self.slots)

    def event_type(self, i: int) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def exists(self, i: int) -> bool:
        return self.event_type(i) is not None

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return self.event_type(i)
        return self.render(i).get(name)

    def data(self, i: int) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def render(self, i: int) -> dict:
        return objects.event(
            id=self.id(i),
            type=self.event_type(i),  # type: ignore[arg-type]
            created=self.created(i),
            data=self.data(i),
            account=self.gen.account_id if self.gen.connected_account else None,
        )
