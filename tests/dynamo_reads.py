"""What a DynamoDB client read: each operation, and the image key of every item that came back.

A botocore hook on the client itself, so a test sees what a listing read, not only what it returned.
"""

from __future__ import annotations


class Reads:
    """The operations a DynamoDB client made, and the image key of every item that came back."""

    def __init__(self, client) -> None:
        self.operations: list[tuple[str, str | None]] = []
        self.items: list[tuple[str, str]] = []  # (operation, image key)
        client.meta.events.register("provide-client-params.dynamodb.*", self._request)
        client.meta.events.register("after-call.dynamodb.*", self._response)

    def _request(self, params, model, **_) -> None:
        self.operations.append((model.name, params.get("IndexName")))

    @property
    def keys(self) -> list[str]:
        return [key for _, key in self.items]

    def _response(self, parsed, model, **_) -> None:
        items = parsed.get("Items", []) + [i for found in parsed.get("Responses", {}).values() for i in found]
        if "Item" in parsed:
            items.append(parsed["Item"])
        for item in items:
            value = item["image_key"]
            self.items.append((model.name, value["S"] if isinstance(value, dict) else value))  # typed or plain
