#!/usr/bin/env python3
"""Validate JSON documents against schemas of the official OpenAPI description.

Usage: spec_check.py SPEC.yml DIR
Each file in DIR is named SCHEMA__anything.json and is validated against
#/components/schemas/SCHEMA of SPEC. Prints one line per file; exits 1 if any fails.
"""
import json
import pathlib
import sys

import jsonschema
import yaml


def main() -> int:
    spec = yaml.safe_load(open(sys.argv[1]))
    failures = 0
    files = sorted(pathlib.Path(sys.argv[2]).glob("*.json"))
    if not files:
        print("no documents to check")
        return 1
    for path in files:
        schema_name = path.name.split("__")[0]
        if schema_name not in spec["components"]["schemas"]:
            print(f"FAIL {path.name}: no schema {schema_name}")
            failures += 1
            continue
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": spec["components"],
                "$ref": f"#/components/schemas/{schema_name}"}
        document = json.loads(path.read_text())
        errors = list(jsonschema.Draft202012Validator(root).iter_errors(document))
        if errors:
            failures += 1
            best = jsonschema.exceptions.best_match(errors)
            print(f"FAIL {path.name}: {best.message[:300]} at {list(best.absolute_path)}")
        else:
            print(f"ok   {path.name}")
    print(f"{len(files) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
