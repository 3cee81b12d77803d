"""The emulator's state: accounts, their objects, API keys, events and listeners.

Model
-----
A `Store` holds every Stripe account the emulator knows: the platform (the account the secret
key belongs to), its connected accounts, and accounts that exist but are not connected (an
OAuth flow can connect them). Each `Account` holds its objects in two layers:

* the generated base: a pure function of (seed, account, index) built by `generator.py`. Each
  generated type is one or more `Stream`s whose `created` is monotonic in the index, so a
  million charges cost no memory: lists binary-search `created` and cursors by index and
  render only the page they return;
* the overlay: objects created or changed after start-up (through the API, the live-rate
  timer, or a test). An overlay object with a generated id replaces the generated one in place
  (same list position: `created` never changes in Stripe); an overlay object with a new id is
  listed by its `created`, newest first.

Extension points (for mutations.py, webhooks.py, oauth.py, faults.py and tests)
-------------------------------------------------------------------------------
* `store.account(acct_id) -> Account | None`; `store.platform`; `store.connected_ids()`;
  `store.connect(acct_id)` / `store.disconnect(acct_id)` (Connect OAuth and deauthorization);
  `store.create_account(...)` (an account that exists but is not connected yet).
* `acct.get(type, id) -> dict | None`: a private copy (mutate freely; `put` it back). A deleted
  product/price/customer comes back as Stripe's stub `{"id", "object", "deleted": True}`.
* `acct.put(obj)`: insert or replace by `obj["id"]` (type from `obj["object"]`).
* `acct.delete(type, id)`: replace with the deleted stub (lists skip it; retrieve returns it).
* `acct.emit_event(type, obj, previous_attributes=None, request_id=None) -> event dict`: records
  an event in the account and calls every listener; the one path the API, the live timer and
  tests use to write events.
* `store.add_event_listener(fn)`: `fn(account: Account, event: dict)` runs after each emitted
  event (webhooks.py delivers from here). Listeners must not block: hand work to a queue.
  `store.put_listeners`: `fn(account, obj, is_new)` after every `put`.
* `store.new_id(prefix) -> str`: a fresh Stripe-shaped id (`"ch"` -> `"ch_1..."`), never equal to
  a generated one.
* `store.now() -> int`: the emulator's clock (Unix seconds); `store.clock_offset` moves it.
  `store.event_floor()`: the oldest `created` an event may have and still be served (30 days).
* `store.schedule(at, action)`: run `action()` once the clock reaches `at` (a bank's answer to
  a debit, a payout's arrival, the next automatic payout). `store.run_due()` runs what is due,
  oldest first; the app calls it before every request, so moving `clock_offset` and then
  making a request plays out everything in between.
* `acct.list(type, ListQuery(...)) -> ListPage`: the list engine the API uses (newest first,
  cursors, created range, `predicate(stream, i, overlaid_obj)`, `candidates` ids).
  `acct.overlay_ids_where(type, field, value)`: overlay objects matching one field.
* `acct.generator`: the `generator.AccountGenerator` of a generated account (None otherwise):
  settlement currency, fees and ids of the generated objects.
* `store.api_keys`: key -> account id it authenticates as (the platform's secret key, and keys
  that oauth.py issues to connected accounts with `store.add_api_key(key, acct_id)`).
* `store.event_delivery`: event id -> bool, set by webhooks.py; the events list's
  `delivery_success` filter reads it.
* Routes: `app.Router.add(method, path, handler, auth=...)`; `app.create_app` calls
  `register(router, store)` of every extension module in `app.EXTENSION_MODULES` that exists.

Thread-safety: the ASGI server runs on one event-loop thread; tests may write from theirs.
Writes and list reads go through `store.lock` (an RLock).
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import heapq
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stripe_emulator import objects

EVENT_RETENTION_SECONDS = 30 * 24 * 3600

# id prefix -> object type, for resolving `expand[]` and `source` by id alone.
PREFIX_TYPES: dict[str, str] = {
    "prod": "product",
    "price": "price",
    "cus": "customer",
    "pi": "payment_intent",
    "ch": "charge",
    "py": "charge",
    "re": "refund",
    "pyr": "refund",
    "dp": "dispute",
    "du": "dispute",
    "txn": "balance_transaction",
    "in": "invoice",
    "il": "line_item",
    "evt": "event",
    "we": "webhook_endpoint",
    "acct": "account",
    "po": "payout",
    "fee": "application_fee",
    "inpay": "invoice_payment",
}

DELETABLE = {"product", "price", "customer", "webhook_endpoint", "invoice"}

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def type_of_id(object_id: str) -> str | None:
    """The object type an id names, from its prefix (None if unknown)."""
    prefix, sep, _ = object_id.partition("_")
    return PREFIX_TYPES.get(prefix) if sep else None


EventListener = Callable[["Account", dict], None]


class Stream:
    """A sequence of objects of one type whose `created` is monotonic in the index.

    Subclasses (in generator.py) render objects on demand. `exists(i)` is False for holes
    (e.g. a failed charge has no balance transaction); lists skip them. `rank` orders streams
    of the same type whose objects share a `created` second, so the order is total and stable.
    """

    rank: int = 0
    object_type: str = ""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def created(self, i: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def exists(self, i: int) -> bool:
        return True

    def id(self, i: int) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def render(self, i: int) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def field(self, i: int, name: str) -> Any:
        """One field of object i; streams override this for fields that filters use."""
        return self.render(i).get(name)

    def lower_bound(self) -> int:
        """First index that lists may show (events older than 30 days are gone)."""
        return 0

    # -- positions -------------------------------------------------------------------------
    def bisect_created(self, created: int, right: bool) -> int:
        """First index whose created is > (right) or >= (not right) `created`."""
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            c = self.created(mid)
            if c < created or (right and c == created):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def index_range(self, created_lo: int | None, created_hi: int | None) -> tuple[int, int]:
        lo = self.lower_bound()
        hi = len(self)
        if created_lo is not None:
            lo = max(lo, self.bisect_created(created_lo, right=False))
        if created_hi is not None:
            hi = min(hi, self.bisect_created(created_hi, right=True))
        return lo, hi

    def position_below(self, key: tuple[int, int, int]) -> int:
        """Number of leading indices whose sort key is < key."""
        created, rank, index = key
        if rank == self.rank:
            return min(index, len(self))
        return self.bisect_created(created, right=rank > self.rank)

    def position_above(self, key: tuple[int, int, int]) -> int:
        """First index whose sort key is > key."""
        created, rank, index = key
        if rank == self.rank:
            return index + 1
        return self.bisect_created(created, right=rank > self.rank)

    def key_of(self, i: int) -> tuple[int, int, int]:
        """The sort key of object i: (created, rank, a tie-breaker increasing with i)."""
        return (self.created(i), self.rank, i)


class ListStream(Stream):
    """A stream over materialized objects (overlay objects with new ids, small catalogs)."""

    def __init__(self, object_type: str, rank: int) -> None:
        self.object_type = object_type
        self.rank = rank
        self._keys: list[tuple[int, int]] = []  # (created, seq), sorted
        self._objs: list[dict] = []
        self._key_by_id: dict[str, tuple[int, int]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._objs)

    def created(self, i: int) -> int:
        return self._keys[i][0]

    def id(self, i: int) -> str:
        return self._objs[i]["id"]

    def render(self, i: int) -> dict:
        return self._objs[i]

    def field(self, i: int, name: str) -> Any:
        return self._objs[i].get(name)

    def append(self, obj: dict) -> int:
        self._seq += 1
        key = (int(obj["created"]), self._seq)
        pos = bisect.bisect_right(self._keys, key)
        self._keys.insert(pos, key)
        self._objs.insert(pos, obj)
        self._key_by_id[obj["id"]] = key
        return pos

    # Positions shift as objects arrive, so keys and cursors use (created, seq), not the index.
    def key_for_id(self, object_id: str) -> tuple[int, int, int] | None:
        key = self._key_by_id.get(object_id)
        return None if key is None else (key[0], self.rank, key[1])

    def key_of(self, i: int) -> tuple[int, int, int]:
        created, seq = self._keys[i]
        return (created, self.rank, seq)

    def position_below(self, key: tuple[int, int, int]) -> int:
        if key[1] == self.rank:
            return bisect.bisect_left(self._keys, (key[0], key[2]))
        return super().position_below(key)

    def position_above(self, key: tuple[int, int, int]) -> int:
        if key[1] == self.rank:
            return bisect.bisect_right(self._keys, (key[0], key[2]))
        return super().position_above(key)


@dataclass
class ListPage:
    data: list[dict]
    has_more: bool


@dataclass
class ListQuery:
    """What a list endpoint asks the store for."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    created_lo: int | None = None
    created_hi: int | None = None
    # predicate(stream, i, overlaid): `overlaid` is the overlay's version of object i, if any.
    predicate: Callable[[Stream, int, dict | None], bool] | None = None
    candidates: list[str] | None = None  # ids: a filter that names its objects directly
    # Skip whole streams that cannot match (e.g. event streams holding none of the types asked).
    stream_filter: Callable[[Stream], bool] | None = None


class CursorNotFound(LookupError):
    """starting_after / ending_before names no object of the listed type."""


class Account:
    """One Stripe account: generated streams plus the overlay. See the module docstring."""

    def __init__(
        self,
        store: Store,
        account_id: str,
        account_object: dict,
        streams: dict[str, list[Stream]] | None = None,
        decoder: Callable[[str], tuple[Stream, int] | None] | None = None,
        default_currency: str = "usd",
    ) -> None:
        self.store = store
        self.id = account_id
        self.object = account_object
        self.default_currency = default_currency
        self.streams: dict[str, list[Stream]] = streams or {}
        self._decoder = decoder
        self.overlay: dict[str, dict] = {}
        self._overlay_by_type: dict[str, dict[str, dict]] = {}
        self._new: dict[str, ListStream] = {}
        self.generator: Any = None  # generator.AccountGenerator for generated accounts
        # payouts made as the clock moved (live_money.py): id -> (since, until) of the
        # `available_on` window each settled
        self.payout_windows: dict[str, tuple[int, int]] = {}

    # -- lookup ----------------------------------------------------------------------------
    def decode(self, object_id: str) -> tuple[Stream, int] | None:
        """The generated stream and index an id names, if it is a generated id."""
        if self._decoder is None:
            return None
        return self._decoder(object_id)

    def lookup(self, object_type: str, object_id: str) -> dict | None:
        """The stored object, not copied (read-only use: serving, expansion)."""
        obj = self.overlay.get(object_id)
        if obj is not None:
            if obj.get("object") != object_type:
                return None
            if object_type == "event" and obj["created"] < self.store.event_floor():
                return None  # Stripe keeps events for 30 days
            return obj
        found = self.decode(object_id)
        if found is None:
            return None
        stream, i = found
        if stream.object_type != object_type or not stream.exists(i):
            return None
        if i < stream.lower_bound():
            return None
        return stream.render(i)

    def overlay_ids_where(self, object_type: str, field_name: str, value: Any) -> list[str]:
        """Ids of overlay objects of a type whose field equals value (objects written since
        start-up; generated ones are found through the generator)."""
        with self.store.lock:
            objs = list(self._overlay_by_type.get(object_type, {}).values())
        return [o["id"] for o in objs if o.get(field_name) == value]

    def invoice_lines(self, invoice_id: str) -> list[dict] | None:
        """Every line of an invoice (its `lines` embeds only the first 10)."""
        invoice = self.lookup("invoice", invoice_id)
        if invoice is None or invoice.get("deleted"):
            return None
        found = self.decode(invoice_id)
        if found is not None and self.generator is not None:
            return self.generator.invoice_lines(found[1])
        return invoice["lines"]["data"]

    def lookup_any(self, object_id: str) -> dict | None:
        object_type = type_of_id(object_id)
        return self.lookup(object_type, object_id) if object_type else None

    def get(self, object_type: str, object_id: str) -> dict | None:
        obj = self.lookup(object_type, object_id)
        return copy.deepcopy(obj) if obj is not None else None

    # -- writes ----------------------------------------------------------------------------
    def put(self, obj: dict) -> dict:
        object_type = obj["object"]
        object_id = obj["id"]
        with self.store.lock:
            is_new = object_id not in self.overlay and self.decode(object_id) is None
            self.overlay[object_id] = obj
            self._overlay_by_type.setdefault(object_type, {})[object_id] = obj
            if is_new:
                stream = self._new.get(object_type)
                if stream is None:
                    stream = self._new[object_type] = ListStream(object_type, rank=1_000)
                stream.append(obj)
            for listener in self.store.put_listeners:
                listener(self, obj, is_new)
        return obj

    def delete(self, object_type: str, object_id: str) -> dict:
        stub = {"id": object_id, "object": object_type, "deleted": True}
        with self.store.lock:
            self.overlay[object_id] = stub
            self._overlay_by_type.setdefault(object_type, {})[object_id] = stub
        return stub

    def emit_event(
        self,
        event_type: str,
        obj: dict,
        previous_attributes: dict | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        created: int | None = None,
    ) -> dict:
        """`created`: when it happened, for work `run_due` plays out late (default: now)."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event = objects.event(
            id=self.store.new_id("evt"),
            type=event_type,
            created=self.store.now() if created is None else created,
            data=data,
            account=None if self.id == self.store.platform_id else self.id,
            api_version=self.store.api_version,
            request_id=request_id,
            idempotency_key=idempotency_key,
        )
        self.put(event)
        for listener in list(self.store.listeners):
            listener(self, event)
        return event

    # -- lists -----------------------------------------------------------------------------
    def all_streams(self, object_type: str) -> list[Stream]:
        streams = list(self.streams.get(object_type, ()))
        new = self._new.get(object_type)
        if new is not None:
            streams.append(new)
        return streams

    def _key_of(self, object_type: str, object_id: str) -> tuple[int, int, int]:
        new = self._new.get(object_type)
        found = self.decode(object_id)
        if found is not None:
            stream, i = found
            if stream.object_type == object_type and stream.exists(i):
                return (stream.created(i), stream.rank, i)
        elif new is not None:
            key = new.key_for_id(object_id)
            if key is not None:
                return key
        raise CursorNotFound(object_id)

    def list(self, object_type: str, query: ListQuery) -> ListPage:
        # Under the lock: a writer on another thread (a test, the live timer) must not shift
        # the overlay's sorted lists under a page being read.
        with self.store.lock:
            return self._list(object_type, query)

    def _list(self, object_type: str, query: ListQuery) -> ListPage:
        if object_type == "event":
            floor = self.store.event_floor()
            if query.created_lo is None or query.created_lo < floor:
                query = dataclasses.replace(query, created_lo=floor)
        streams = self.all_streams(object_type)
        if query.stream_filter is not None:
            streams = [s for s in streams if query.stream_filter(s)]
        if query.candidates is not None:
            return self._list_candidates(object_type, query)
        ascending = query.ending_before is not None
        cursor = query.ending_before if ascending else query.starting_after
        key = self._key_of(object_type, cursor) if cursor else None
        iters = [self._iter(s, query, key, ascending) for s in streams]
        merged: Iterable[tuple[tuple[int, int, int], Stream, int]]
        if len(iters) == 1:
            merged = iters[0]
        else:
            merged = heapq.merge(*iters, key=lambda t: t[0], reverse=not ascending)
        data: list[dict] = []
        has_more = False
        overlay = self.overlay
        predicate = query.predicate
        for _key, stream, i in merged:
            obj = overlay.get(stream.id(i)) if overlay else None
            if predicate is not None and not predicate(stream, i, obj):
                continue
            if obj is None:
                obj = stream.render(i)
            if obj.get("deleted"):
                continue
            if len(data) == query.limit:
                has_more = True
                break
            data.append(obj)
        if ascending:
            data.reverse()
        return ListPage(data, has_more)

    def _iter(
        self, stream: Stream, query: ListQuery, key: tuple[int, int, int] | None, ascending: bool
    ) -> Iterator[tuple[tuple[int, int, int], Stream, int]]:
        lo, hi = stream.index_range(query.created_lo, query.created_hi)
        key_of = stream.key_of
        exists = stream.exists
        if ascending:
            if key is not None:
                lo = max(lo, stream.position_above(key))
            for i in range(lo, hi):
                if exists(i):
                    yield key_of(i), stream, i
        else:
            if key is not None:
                hi = min(hi, stream.position_below(key))
            for i in range(hi - 1, lo - 1, -1):
                if exists(i):
                    yield key_of(i), stream, i

    def _list_candidates(self, object_type: str, query: ListQuery) -> ListPage:
        """A list over the few objects a filter names (e.g. the refunds of one charge)."""
        found = []
        for object_id in dict.fromkeys(query.candidates or ()):
            obj = self.lookup(object_type, object_id)
            if obj is None or obj.get("deleted"):
                continue
            if query.predicate is not None and not query.predicate(None, -1, obj):  # type: ignore[arg-type]
                continue
            c = obj["created"]
            if query.created_lo is not None and c < query.created_lo:
                continue
            if query.created_hi is not None and c > query.created_hi:
                continue
            found.append((self._key_of(object_type, object_id), obj))
        found.sort(key=lambda t: t[0], reverse=True)
        if query.starting_after:
            k = self._key_of(object_type, query.starting_after)
            found = [f for f in found if f[0] < k]
        if query.ending_before:
            k = self._key_of(object_type, query.ending_before)
            found = [f for f in found if f[0] > k][-query.limit - 1 :]
            has_more = len(found) > query.limit
            return ListPage([o for _, o in found[-query.limit :]], has_more)
        return ListPage([o for _, o in found[: query.limit]], len(found) > query.limit)


@dataclass
class StoreOptions:
    """What `Store.generate` builds. Mirrors the `stripe-pipeline emulator` flags."""

    seed: int = 42
    accounts: int = 2  # connected accounts
    charges: int = 500  # per account (platform included)
    days: int = 60  # the generated history ends at `end` and spans this many days
    end: int | None = None  # Unix seconds; default: today 00:00 UTC (stable for a day)
    api_key: str = "sk_test_emulator"
    client_id: str = "ca_emulator"
    unconnected_accounts: int = 1  # exist, but must be connected through OAuth first
    charges_by_account: dict[int, int] = field(default_factory=dict)  # account number -> n


class Store:
    """All state of one emulator process."""

    def __init__(self, options: StoreOptions | None = None) -> None:
        self.options = options or StoreOptions()
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.connected: set[str] = set()
        self.platform_id = ""
        self.api_keys: dict[str, str] = {}
        self.client_id = self.options.client_id
        self.listeners: list[EventListener] = []
        # fn(account, obj, is_new) after every `put` (live_money.py watches balance transactions)
        self.put_listeners: list[Callable[[Account, dict, bool], None]] = []
        self.event_delivery: dict[str, bool] = {}
        self.api_version = objects.API_VERSION
        self.clock_offset = 0
        self.app: Any = None  # the EmulatorApp serving this store (set by create_app)
        self._due: list[tuple[int, int, Callable[[], None]]] = []  # heap: (at, seq, action)
        self._due_seq = 0
        # Ids of objects made after start-up must differ across restarts, as Stripe's never repeat:
        # a restarted emulator that reissued `ch_...` ids would make redelivered-looking events.
        self._rng = random.Random(f"ids:{self.options.seed}:{time.time_ns()}:{os.getpid()}")

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def generate(cls, options: StoreOptions | None = None, **kwargs: Any) -> Store:
        """A store filled by the deterministic generator (see generator.py)."""
        from stripe_emulator import generator

        if options is None:
            options = StoreOptions(**kwargs)
        store = cls(options)
        generator.populate(store)
        return store

    def add_account(self, account: Account, connected: bool, platform: bool = False) -> None:
        self.accounts[account.id] = account
        if platform:
            self.platform_id = account.id
        elif connected:
            self.connected.add(account.id)

    def create_account(self, **fields: Any) -> Account:
        """A new, empty standard account (not connected). oauth.py or tests may connect it."""
        account_id = "acct_1" + "".join(self._rng.choice(_B62) for _ in range(15))
        obj = objects.account(id=account_id, created=self.now(), **fields)
        account = Account(self, account_id, obj, default_currency=obj["default_currency"])
        with self.lock:
            self.accounts[account_id] = account
        return account

    # -- access ----------------------------------------------------------------------------
    @property
    def platform(self) -> Account:
        return self.accounts[self.platform_id]

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def connected_ids(self) -> list[str]:
        return sorted(self.connected, key=lambda a: (self.accounts[a].object["created"], a))

    def connect(self, account_id: str) -> None:
        with self.lock:
            if account_id not in self.accounts:
                raise KeyError(account_id)
            self.connected.add(account_id)

    def disconnect(self, account_id: str) -> None:
        with self.lock:
            self.connected.discard(account_id)
            for key, owner in list(self.api_keys.items()):
                if owner == account_id:
                    del self.api_keys[key]

    def is_connected(self, account_id: str) -> bool:
        return account_id in self.connected

    def add_api_key(self, key: str, account_id: str) -> None:
        with self.lock:
            self.api_keys[key] = account_id

    def add_event_listener(self, listener: EventListener) -> None:
        self.listeners.append(listener)

    def remove_event_listener(self, listener: EventListener) -> None:
        self.listeners.remove(listener)

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def schedule(self, at: int, action: Callable[[], None]) -> None:
        """Run `action()` once the clock reaches `at` (see `run_due`)."""
        with self.lock:
            self._due_seq += 1
            heapq.heappush(self._due, (at, self._due_seq, action))

    def run_due(self) -> None:
        """Run every scheduled action whose time has come, in time order. Cheap when nothing
        is due: one comparison."""
        due = self._due
        if not due or due[0][0] > self.now():
            return
        with self.lock:
            while due and due[0][0] <= self.now():
                _, _, action = heapq.heappop(due)
                action()

    def event_floor(self) -> int:
        """The oldest `created` an event may have and still be served (30 days)."""
        return self.now() - EVENT_RETENTION_SECONDS

    def new_id(self, prefix: str) -> str:
        """A fresh id: prefix, '_1', 23 base-62 characters ('_3' marks generated ids)."""
        with self.lock:
            body = "".join(self._rng.choice(_B62) for _ in range(23))
        return f"{prefix}_1{body}"
