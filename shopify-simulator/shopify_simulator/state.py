"""The simulated shop's data, held in memory: locations, products, variants, inventory, bulk operations.

Plain mutable dataclasses, one per Shopify resource, and a ``ShopState`` that owns them and hands out global
IDs, written to and read from a JSON file so a demo survives a restart (``erpsync simulator --state FILE``).
Nothing here knows GraphQL.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from shopify_simulator.media import Media

GID_PREFIX = "gid://shopify/"
STATE_FORMAT_VERSION = 1


def utc_now() -> datetime.datetime:
    """Now, in UTC, to the second: Shopify's ``DateTime`` values carry no fractions."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def format_datetime(moment: datetime.datetime | None) -> str | None:
    """ISO 8601 with a ``Z``, the way Shopify writes ``DateTime`` (e.g. ``2026-11-01T10:00:00Z``)."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime.datetime:
    """Read an ISO 8601 date or date-time; a value without a zone is taken as UTC."""
    moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def gid(kind: str, number: int) -> str:
    """Build a global ID such as ``gid://shopify/Product/7``."""
    return f"{GID_PREFIX}{kind}/{number}"


def gid_kind(global_id: str) -> str | None:
    """The resource name inside a global ID, or None if it is not one."""
    if not global_id.startswith(GID_PREFIX):
        return None
    return global_id[len(GID_PREFIX) :].split("/", 1)[0]


@dataclass
class Location:
    """A place where inventory is stocked."""

    id: str
    name: str
    created_at: datetime.datetime
    is_active: bool = True


@dataclass
class Metafield:
    """A namespaced key/value on a product or a variant."""

    id: str
    namespace: str
    key: str
    type: str
    value: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


@dataclass
class MetafieldDefinition:
    """A metafield definition; one of type ``id`` makes its metafield usable as a product's custom ID."""

    id: str
    owner_type: str
    namespace: str
    key: str
    type: str
    name: str
    created_at: datetime.datetime


@dataclass
class OptionValue:
    """One value of a product option (``M`` of ``Size``)."""

    id: str
    name: str


@dataclass
class ProductOption:
    """A product option with its ordered values."""

    id: str
    name: str
    position: int
    values: list[OptionValue]


@dataclass
class InventoryItem:
    """The stock-keeping side of a variant, with quantities per location and quantity name."""

    id: str
    sku: str | None
    tracked: bool
    requires_shipping: bool
    cost: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    # location id -> quantity name ("available", "on_hand", ...) -> quantity
    levels: dict[str, dict[str, int]] = field(default_factory=dict)
    weight: dict[str, Any] | None = None  # `measurement.weight`: {"value": float, "unit": "KILOGRAMS"}


@dataclass
class Variant:
    """A product variant; ``selected_options`` are (option name, value name) pairs in option order."""

    id: str
    product_id: str
    sku: str | None
    barcode: str | None
    price: str
    compare_at_price: str | None
    taxable: bool
    inventory_policy: str
    position: int
    selected_options: list[tuple[str, str]]
    inventory_item: InventoryItem
    metafields: list[Metafield]
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @property
    def title(self) -> str:
        """Shopify's variant title: the option values joined by `` / ``."""
        return " / ".join(value for _name, value in self.selected_options)


@dataclass
class Product:
    """A product with its options, variants and metafields."""

    id: str
    handle: str
    title: str
    status: str
    vendor: str
    product_type: str
    tags: list[str]
    description_html: str
    template_suffix: str | None
    options: list[ProductOption]
    variants: list[Variant]
    metafields: list[Metafield]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    media: list[Media] = field(default_factory=list)
    publication_ids: list[str] = field(default_factory=list)  # media.py, publications.py
    seo: dict[str, str | None] = field(default_factory=dict)  # `seo { title description }`


@dataclass
class StagedFile:
    """A staged upload target and, once posted, its bytes."""

    key: str
    filename: str
    mime_type: str
    created_at: datetime.datetime
    content: bytes | None = None
    uploaded_at: datetime.datetime | None = None


@dataclass
class BulkOperation:
    """One bulk query or bulk mutation and what it produced."""

    id: str
    type: str  # "QUERY" | "MUTATION"
    query: str
    api_version: str
    status: str
    created_at: datetime.datetime
    staged_upload_path: str | None = None
    error_code: str | None = None
    completed_at: datetime.datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    # Paths below the simulator's own address; the absolute URL is derived from each request's host.
    result_path: str | None = None
    partial_result_path: str | None = None


@dataclass
class ShopState:
    """Everything the simulated shop holds. Mutated only from the event loop's thread."""

    shop_name: str = "erpsync simulator"
    shop_domain: str = "erpsync-simulator.myshopify.com"
    locations: dict[str, Location] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    bulk_operations: dict[str, BulkOperation] = field(default_factory=dict)
    staged_files: dict[str, StagedFile] = field(default_factory=dict)
    result_files: dict[str, bytes] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    metafield_definitions: dict[str, MetafieldDefinition] = field(default_factory=dict)  # by "TYPE/ns/key"
    publications: dict[str, str] = field(default_factory=dict)  # id -> name of each sales channel
    idempotency_keys: dict[str, Any] = field(default_factory=dict)  # idempotency.py; in memory only
    events: list[Any] = field(default_factory=list)  # events.py: what happened to products; in memory only

    def new_id(self, kind: str) -> str:
        """Hand out the next global ID of a resource kind; IDs are never reused, even after deletes."""
        number = self.counters.get(kind, 0) + 1
        self.counters[kind] = number
        return gid(kind, number)

    def find_variant(self, variant_id: str) -> Variant | None:
        """The variant with this ID, wherever it lives."""
        for product in self.products.values():
            for variant in product.variants:
                if variant.id == variant_id:
                    return variant
        return None

    def find_inventory_item(self, item_id: str) -> InventoryItem | None:
        """The inventory item with this ID, through an index of item -> variant that is checked on every
        hit and rebuilt on a miss: a scan per quantity made a bulk stock file over a large shop quadratic."""
        # Kept out of the dataclass's fields, so that save_state never writes it.
        index: dict[str, Variant] = self.__dict__.setdefault("_item_variants", {})
        variant = index.get(item_id)
        if variant is None or not self._holds(variant, item_id):
            index.clear()
            index.update((v.inventory_item.id, v) for v in self.all_variants())
            variant = index.get(item_id)
        return variant.inventory_item if variant is not None else None

    def _holds(self, variant: Variant, item_id: str) -> bool:
        """Whether `variant` is still in the shop with that inventory item."""
        product = self.products.get(variant.product_id)
        return product is not None and variant.inventory_item.id == item_id and variant in product.variants

    def all_variants(self) -> list[Variant]:
        """Every variant of every product, products in ID order."""
        return list(itertools.chain.from_iterable(product.variants for product in self.products.values()))

    def product_by_handle(self, handle: str) -> Product | None:
        """The product with this handle, through an index: a scan per line made big bulk files quadratic."""
        product_id = self._handles().get(handle)
        product = self.products.get(product_id) if product_id is not None else None
        return product if product is not None and product.handle == handle else None

    def index_handle(self, product: Product, *, old_handle: str | None = None) -> None:
        """Record a product's (new) handle; call after creating it or changing its handle."""
        index = self._handles()
        if old_handle is not None and index.get(old_handle) == product.id:
            del index[old_handle]
        index[product.handle] = product.id

    def unindex_handle(self, product: Product) -> None:
        """Forget a deleted product's handle."""
        index = self._handles()
        if index.get(product.handle) == product.id:
            del index[product.handle]

    def _handles(self) -> dict[str, str]:
        # Kept outside the dataclass fields, so saving the state never writes it; built on first use.
        index: dict[str, str] | None = self.__dict__.get("_handle_index")
        if index is None:
            index = {product.handle: product.id for product in self.products.values()}
            self.__dict__["_handle_index"] = index
        return index


def new_shop_state(*, location_names: tuple[str, ...] = ("Main warehouse",)) -> ShopState:
    """A fresh shop with its locations: Shopify shops always have at least one location."""
    state = ShopState()
    for name in location_names:
        location_id = state.new_id("Location")
        state.locations[location_id] = Location(id=location_id, name=name, created_at=utc_now())
    return state


# --- saving and loading (--state FILE) -------------------------------------------------------------


def _encode_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(type(value).__name__)


def save_state(state: ShopState, path: Path) -> None:
    """Write the shop to a JSON file, atomically (write then rename), so a crash never leaves half a file."""
    payload = {"format": STATE_FORMAT_VERSION, "state": dataclasses.asdict(state)}
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(orjson.dumps(payload, default=_encode_default))
    temporary.replace(path)


def _datetime_or_none(value: Any) -> datetime.datetime | None:
    return None if value is None else parse_datetime(str(value))


def _load_metafield(raw: dict[str, Any]) -> Metafield:
    times = {name: parse_datetime(raw[name]) for name in ("created_at", "updated_at")}
    return Metafield(**{**raw, **times})


def _load_variant(raw: dict[str, Any]) -> Variant:
    item_raw = raw["inventory_item"]
    item = InventoryItem(
        **{
            **item_raw,
            "created_at": parse_datetime(item_raw["created_at"]),
            "updated_at": parse_datetime(item_raw["updated_at"]),
        }
    )
    return Variant(
        **{
            **raw,
            "selected_options": [(name, value) for name, value in raw["selected_options"]],
            "inventory_item": item,
            "metafields": [_load_metafield(entry) for entry in raw["metafields"]],
            "created_at": parse_datetime(raw["created_at"]),
            "updated_at": parse_datetime(raw["updated_at"]),
        }
    )


def _load_product(raw: dict[str, Any]) -> Product:
    from shopify_simulator.media import load_media

    options = [
        ProductOption(
            id=option["id"],
            name=option["name"],
            position=option["position"],
            values=[OptionValue(**value) for value in option["values"]],
        )
        for option in raw["options"]
    ]
    return Product(
        **{
            **raw,
            "options": options,
            "variants": [_load_variant(entry) for entry in raw["variants"]],
            "metafields": [_load_metafield(entry) for entry in raw["metafields"]],
            "created_at": parse_datetime(raw["created_at"]),
            "updated_at": parse_datetime(raw["updated_at"]),
            "media": [load_media(media) for media in raw.get("media", [])],
        }
    )


def load_state(path: Path) -> ShopState:
    """Read a shop written by ``save_state``. Staged uploads and result files are kept as text."""
    document = orjson.loads(path.read_bytes())
    raw = document["state"]
    state = ShopState(
        shop_name=raw["shop_name"], shop_domain=raw["shop_domain"], counters=dict(raw["counters"])
    )
    for location_id, location in raw["locations"].items():
        state.locations[location_id] = Location(
            **{**location, "created_at": parse_datetime(location["created_at"])}
        )
    for product_id, product in raw["products"].items():
        state.products[product_id] = _load_product(product)
    for operation_id, operation in raw["bulk_operations"].items():
        state.bulk_operations[operation_id] = BulkOperation(
            **{
                **operation,
                "created_at": parse_datetime(operation["created_at"]),
                "completed_at": _datetime_or_none(operation["completed_at"]),
            }
        )
    for key, staged in raw["staged_files"].items():
        content = staged["content"]
        state.staged_files[key] = StagedFile(
            **{
                **staged,
                "content": None if content is None else str(content).encode(),
                "created_at": parse_datetime(staged["created_at"]),
                "uploaded_at": _datetime_or_none(staged["uploaded_at"]),
            }
        )
    for name, content in raw["result_files"].items():
        state.result_files[name] = str(content).encode()
    for identity, definition in raw.get("metafield_definitions", {}).items():
        state.metafield_definitions[identity] = MetafieldDefinition(
            **{**definition, "created_at": parse_datetime(definition["created_at"])}
        )
    state.publications = dict(raw.get("publications", {}))
    return state
