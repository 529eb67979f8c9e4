"""The inverse of one journal row (`erpsync.inverse`): what a revert does to a product, or the one line
saying why it leaves it alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from erpsync.changes import NEVER_WRITTEN
from erpsync.inverse import Inverse, JournalEntry, Skip, invert

BEFORE: dict[str, Any] = {
    "title": "Tee",
    "variants": [
        {"sku": "A-S", "price": "10.00", "inventoryQuantities": [{"quantity": 5}]},
        {"sku": "A-M", "price": "10.00", "inventoryQuantities": [{"quantity": 7}]},
    ],
}
NOW: dict[str, Any] = {
    "title": "Tee",
    "variants": [{"sku": "A-S", "price": "12.00", "inventoryQuantities": [{"quantity": 2}]}],
}
# The same product before the run, but for its stock: the run changed nothing else.
STOCK_ONLY: dict[str, Any] = {
    **NOW,
    "variants": [{**NOW["variants"][0], "inventoryQuantities": [{"quantity": 9}]}],
}
UPDATE = JournalEntry(
    product_key="A", skus=["A-S"], action="update", result="ok", changes=[], shopify_product_id="gid://p/1",
    written_before=BEFORE, hash_before="h-before", later_run=None, written_now=NOW, hash_now="h-now",
    state="active", product_id_now="gid://p/1",
)  # fmt: skip


def test_an_update_is_written_back_with_the_stock_of_now() -> None:
    """The fields go back; the stock of a variant the product still has is today's, and a variant the run
    removed comes back with the stock it had."""
    found = invert(UPDATE, run_id=7, delete_policy="delete")
    assert isinstance(found, Inverse)
    assert (found.action, found.skus, found.content_hash, found.product_id) == (
        "update", ["A-S", "A-M"], "h-before", "gid://p/1"
    )  # fmt: skip
    assert found.input == {
        "title": "Tee",
        "variants": [
            {"sku": "A-S", "price": "10.00", "inventoryQuantities": [{"quantity": 2}]},
            {"sku": "A-M", "price": "10.00", "inventoryQuantities": [{"quantity": 7}]},
        ],
    }
    assert (found.written_before, found.hash_before) == (NOW, "h-now")


@pytest.mark.parametrize(
    ("entry", "action"),
    [
        (replace(UPDATE, action="delete", written_now=None, state=None, product_id_now=None), "create"),
        (replace(UPDATE, action="archive", state="archived"), "update"),
        (replace(UPDATE, action="create", written_before=None), "archive"),
    ],
)
def test_each_action_has_its_inverse(entry: JournalEntry, action: str) -> None:
    found = invert(entry, run_id=7, delete_policy="archive")
    assert isinstance(found, Inverse)
    assert found.action == action


@pytest.mark.parametrize(
    ("entry", "policy", "reason"),
    [
        (replace(UPDATE, later_run=9), "delete", "changed since by run 9"),
        (replace(UPDATE, result="failed"), "delete", "its write failed in run 7: nothing to revert"),
        (replace(UPDATE, result="unknown"), "delete", "run 7 got no answer for it: whether it was written is not known"),
        (replace(UPDATE, action="held", result="skipped"), "delete", "run 7 did not write it (held): nothing to revert"),
        (replace(UPDATE, state=None, written_now=None), "delete", "no longer tracked by the config"),
        (replace(UPDATE, state="archived"), "delete", "archived since run 7"),
        (replace(UPDATE, action="archive"), "delete", "active again"),
        (replace(UPDATE, written_before=None, changes=[NEVER_WRITTEN]), "delete",
         "erpsync had not written it before run 7 (adopted): there is no state to restore"),
        (replace(UPDATE, written_before=None), "delete",
         "the journal of run 7 keeps no state from before it (journalled before reverts existed)"),
        (replace(UPDATE, action="delete"), "delete", "tracked again since run 7"),
        (replace(UPDATE, action="create"), "ignore", "the config's delete_policy is ignore: what run 7 created is kept"),
        (replace(UPDATE, written_before=STOCK_ONLY), "delete",
         "only its stock changed in run 7, and stock is not put back"),
    ],
)  # fmt: skip
def test_why_a_product_is_left_alone(entry: JournalEntry, policy: str, reason: str) -> None:
    assert invert(entry, run_id=7, delete_policy=policy) == Skip("A", ["A-S"], reason)
