#!/usr/bin/env python3
"""Verifies recorded webhook deliveries with the official OpenAI Python SDK.

Usage: OPENAI_WEBHOOK_SECRET=whsec_... webhook_unwrap.py DELIVERIES.json

DELIVERIES.json holds [{"headers": {...}, "body": "<raw body text>"}, ...], as a receiver got
them. Each goes through openai.OpenAI(webhook_secret=...).webhooks.unwrap(body, headers), which
checks the signature and that webhook-timestamp is within 300 s of now: run this right after
recording. Prints "ok N" and exits 0 when every delivery verifies and its event matches the
raw body; else prints the first failure (never the secret) and exits 1.
"""
import json
import os
import sys

import openai


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: webhook_unwrap.py DELIVERIES.json")
        return 2
    secret = os.environ.get("OPENAI_WEBHOOK_SECRET")
    if not secret:
        print("OPENAI_WEBHOOK_SECRET is not set")
        return 1
    with open(sys.argv[1], encoding="utf-8") as file:
        deliveries = json.load(file)
    client = openai.OpenAI(api_key="x", webhook_secret=secret)
    for index, delivery in enumerate(deliveries):
        headers = delivery["headers"]
        body = delivery["body"]
        where = f"delivery {index} (webhook-id {headers.get('webhook-id', '?')})"
        try:
            event = client.webhooks.unwrap(body, headers)
        except Exception as error:  # the SDK raises ValueError subclasses, and a few others
            print(f"{where}: {type(error).__name__}: {error}")
            return 1
        raw = json.loads(body)
        if event.type != raw["type"] or event.id != raw["id"] or event.data.id != raw["data"]["id"]:
            print(f"{where}: unwrapped event differs from the body: {event.type} {event.id} {event.data.id}")
            return 1
    print(f"ok {len(deliveries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
