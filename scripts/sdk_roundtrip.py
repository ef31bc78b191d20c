#!/usr/bin/env python3
"""The official openai SDK against a Responses API server (the Kiln simulator).

Usage: sdk_roundtrip.py BASE_URL
Creates a background response, retrieves it until it is terminal, checks output_text,
then cancels a finished and a running response twice each. Exits non-zero on any mismatch.
"""
import sys
import time

import openai


def main() -> int:
    client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test-roundtrip", max_retries=0)
    created = client.responses.create(
        model="gpt-5-mini", input="A long report about quarterly revenue and costs.",
        background=True, metadata={"kiln_run_id": "run_sdk"})
    assert created.status in ("queued", "in_progress"), created.status
    assert created.background is True
    response = created
    deadline = time.time() + 30
    while response.status in ("queued", "in_progress"):
        assert time.time() < deadline, "no terminal status in 30 s"
        time.sleep(0.1)
        response = client.responses.retrieve(created.id)
    assert response.status == "completed", response.status
    assert response.output_text, "output_text is empty"
    assert response.usage is not None and response.usage.total_tokens > 0
    # Cancelling a finished response returns it unchanged, twice.
    first = client.responses.cancel(created.id)
    second = client.responses.cancel(created.id)
    assert first.status == second.status == "completed", (first.status, second.status)
    # Cancelling a running response cancels it; a second cancel gives the same answer.
    running = client.responses.create(
        model="gpt-5-mini", input="Another document [sim:generation=60]", background=True)
    one = client.responses.cancel(running.id)
    two = client.responses.cancel(running.id)
    assert one.status == two.status == "cancelled", (one.status, two.status)
    assert one.model_dump() == two.model_dump()
    try:
        client.responses.retrieve("resp_does_not_exist")
        raise AssertionError("a missing response did not raise")
    except openai.NotFoundError:
        pass
    print(f"sdk {openai.__version__}: create, retrieve to {response.status}, output_text "
          f"{len(response.output_text)} chars, cancel twice: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
