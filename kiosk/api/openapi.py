"""The OpenAPI 3.1 document of /api/v1, written as data."""

from __future__ import annotations

import copy
from typing import Any

STATUSES = ["received", "packing", "ready", "collected", "expired", "cancelled"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
ORDER_ID = {"name": "order_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}
REASON_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {
        "type": "object", "properties": {"reason": {"type": "string", "maxLength": 500}},
        "additionalProperties": False}}},
}
COMMON_ERRORS = {"401": _error("No token, or a token not accepted"),
                 "404": _error("No such order"),
                 "409": _error("The order's state does not allow this, or another change of "
                               "the order landed first (two at once: one wins; detail.kind "
                               "= changed_meanwhile, detail.status the state it is in now)")}

SCHEMAS: dict[str, Any] = {
    "Pickup": {
        "type": "object", "required": ["order_id", "collected", "ils", "items", "refused"],
        "properties": {
            "order_id": {"type": "integer"}, "collected": {"type": "boolean"},
            "ils": {"enum": ["none", "online", "offline"]},
            "items": {"type": "array", "items": _ref("ItemOutcome")},
            "refused": {"type": "array", "items": _ref("ItemOutcome")}},
    },
    "ItemOutcome": {
        "type": "object", "required": ["barcode", "state"],
        "properties": {"barcode": {"type": "string"},
                       "state": {"enum": ["lent", "queued", "refused"]},
                       "due_date": {"type": ["string", "null"]},
                       "message": {"type": ["string", "null"]}},
    },
    "Error": {
        "type": "object", "required": ["error", "detail"],
        "properties": {"error": {"type": "string"}, "detail": {}},
    },
    "NewItem": {
        "type": "object", "required": ["barcode"], "additionalProperties": False,
        "properties": {"barcode": {"type": "string", "minLength": 1, "maxLength": 64},
                       "title": {"type": ["string", "null"], "maxLength": 500}},
    },
    "NewOrder": {
        "type": "object", "required": ["card", "items"], "additionalProperties": False,
        "properties": {
            "ref": {"type": ["string", "null"], "maxLength": 64,
                    "description": "The library system's own reference; unique."},
            "card": {"type": "string", "description": "Patron card number, as configured "
                     "in [cards] patterns (default N + 9 digits)."},
            "branch": {"type": ["string", "null"], "maxLength": 64,
                       "description": "Pickup branch; the station's branch if left out."},
            "patron_name": {"type": ["string", "null"], "maxLength": 200},
            "items": {"type": "array", "minItems": 1, "maxItems": 200,
                      "items": _ref("NewItem")},
        },
    },
    "Item": {
        "type": "object",
        "properties": {"barcode": {"type": "string"}, "title": {"type": ["string", "null"]},
                       "packed": {"type": "boolean"}, "lent": {"type": "boolean"}},
    },
    "Order": {
        "type": "object",
        "required": ["id", "status", "pickup_code", "branch", "items"],
        "properties": {
            "id": {"type": "integer"},
            "ref": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": STATUSES},
            "pickup_code": {"type": "string", "examples": ["KR-472"]},
            "card": {"type": ["string", "null"],
                     "description": "Null once the order has been anonymised."},
            "branch": {"type": "string"},
            "slot": {"type": ["string", "null"], "examples": ["B-12"],
                     "description": "The shelf slot while the order is ready."},
            "slot_branch": {"type": ["string", "null"],
                            "description": "The branch whose wall the slot is on."},
            "deadline": {"type": ["string", "null"], "format": "date",
                         "description": "Last day on the shelf."},
            "items": {"type": "array", "items": _ref("Item")},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "packed_at": NULLABLE_TIME, "shelved_at": NULLABLE_TIME,
            "closed_at": NULLABLE_TIME,
        },
    },
    "OrderList": {
        "type": "object", "required": ["orders", "total"],
        "properties": {"orders": {"type": "array", "items": _ref("Order")},
                       "total": {"type": "integer", "description": "Matches over all pages."},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
}


def _action(summary: str, description: str) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "description": description, "parameters": [ORDER_ID],
        "requestBody": REASON_BODY,
        "responses": {"200": _json(_ref("Order"), "The order after the change"),
                      "400": _error("Bad body"), **COMMON_ERRORS},
    }}


PATHS: dict[str, Any] = {
    "/orders": {
        "post": {
            "summary": "Add an order",
            "description": "The order gets a pickup code and the status received.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("NewOrder")}}},
            "responses": {
                "201": _json(_ref("Order"), "The order as stored"),
                "400": _error("Invalid order; detail lists every problem (identifiers: card, "
                              "ref, item barcodes are printable ASCII without |; titles and "
                              "names hold no control, invisible or bidi characters)"),
                "401": COMMON_ERRORS["401"],
                "409": _error("An order with this ref exists; detail names its id"),
                "413": _error("Body larger than 1 MiB"),
                "415": _error("Body is not JSON"),
            },
        },
        "get": {
            "summary": "List orders, filtered and paged",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string"},
                 "description": "One status or several, comma-separated: " + ", ".join(STATUSES)},
                {"name": "ref", "in": "query", "schema": {"type": "string"}},
                {"name": "card", "in": "query", "schema": {"type": "string"}},
                {"name": "branch", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "default": 50},
                 "description": "At most 500 are returned."},
                {"name": "offset", "in": "query",
                 "schema": {"type": "integer", "minimum": 0, "default": 0}},
            ],
            "responses": {"200": _json(_ref("OrderList"), "One page of orders, oldest first"),
                          "400": _error("A bad or unknown parameter"),
                          "401": COMMON_ERRORS["401"]},
        },
    },
    "/orders/{order_id}": {"get": {
        "summary": "Get one order", "parameters": [ORDER_ID],
        "responses": {"200": _json(_ref("Order"), "The order"),
                      "401": COMMON_ERRORS["401"], "404": COMMON_ERRORS["404"]},
    }},
    "/orders/{order_id}/shelve": {"post": {
        "summary": "Put the order's bag on a shelf slot",
        "description": "An order not yet packed is taken as packed: the caller vouches for "
                       "it. The deadline is counted in opening days from today.",
        "parameters": [ORDER_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["slot"],
            "properties": {"slot": {"type": "string", "examples": ["B-12"]}}}}}},
        "responses": {"200": _json(_ref("Order"), "The order, now ready on the slot"),
                      "400": _error("No slot given"), "401": COMMON_ERRORS["401"],
                      "404": _error("No such order or slot"),
                      "409": _error("The slot is full, the order is closed, the bag "
                                    "belongs to another branch (detail.kind = "
                                    "other_branch, detail.branch names it), or the library "
                                    "system refused the check-in of an item ([ils] "
                                    "checkin_on_shelve; detail.kind = checkin_refused, "
                                    "detail.items: barcode, alert, destination, message)")},
    }},
    "/orders/{order_id}/collect": {"post": {
        "summary": "Collect the order, lending its items as the kiosk does",
        "description": "Only an order on the shelf can be collected. With [ils] "
                       "checkout_on_collect each item is checked out to the order's card "
                       "first (queued when the library system is down); `pickup` is the "
                       "kiosk's answer per item. An item the library system refuses keeps "
                       "the order on its slot: 409 with detail {pickup, order}. A bag with "
                       "no card yet needs the patron's card in `card`.",
        "parameters": [ORDER_ID],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": 500},
                           "card": {"type": "string", "maxLength": 64}}}}}},
        "responses": {"200": _json({"allOf": [_ref("Order"), {
            "type": "object", "properties": {"pickup": _ref("Pickup")}}]},
            "The order, now collected, with the answer per item"),
            "400": _error("Bad body or card number"), "401": COMMON_ERRORS["401"],
            "404": COMMON_ERRORS["404"],
            "409": _error("Not on a shelf, items refused (detail: pickup, order), or a "
                          "card is needed")},
    }},
    "/orders/{order_id}/correct": {"post": {
        "summary": "Correct the order's branch or patron card",
        "description": "An order not yet collected (received, packing, ready) gets another "
                       "branch (one of the library's known branches; not while on a shelf) "
                       "and/or another card; the order's history records the change.",
        "parameters": [ORDER_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {"branch": {"type": "string", "maxLength": 64},
                           "card": {"type": "string", "maxLength": 64}}}}}},
        "responses": {"200": _json(_ref("Order"), "The order, corrected"),
                      "400": _error("Bad body or card number"), "401": COMMON_ERRORS["401"],
                      "404": COMMON_ERRORS["404"],
                      "409": _error("The order is closed or on a shelf, or the branch is "
                                    "unknown")},
    }},
    "/orders/{order_id}/cancel": _action(
        "Cancel the order", "Any open order can be cancelled; its slot is freed, and so is "
        "its ref: a new order may use it (the cancelled order keeps showing it as ref, and "
        "?ref= lists both)."),
    "/openapi.json": {"get": {
        "summary": "This document", "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1 document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
}


def document(server: str = "/api/v1") -> dict[str, Any]:
    """Return the OpenAPI document, with server as the base URL."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pickup station integration API", "version": "1.0.0",
            "description": "Orders in, shelving, collection and cancellation for a library "
                           "takeaway pickup station. Tokens come from the file named by "
                           "[api] tokens_file.",
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
