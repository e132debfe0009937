#!/usr/bin/env python3
"""Validate mtstat's JSON output against its schema.

  check-json.py SCHEMA FILE...
  check-json.py SCHEMA --sections FILE

Each FILE holds one JSON document, or one per line (mtstat -w -j).  With
--sections, FILE holds several, each after a line "=== NAME" (the output
of mtstat-json-dump.sh in the VM).  Exits non-zero, naming the file or
section, line and reason, on the first invalid document, and when a file
or section holds none."""
import json
import sys

import jsonschema


def check(validator, name, text):
    try:
        docs = [(1, json.loads(text))]
    except json.JSONDecodeError:
        docs = [(n, json.loads(line)) for n, line in
                enumerate(text.splitlines(), 1) if line.strip()]
    if not docs:
        sys.exit(f"{name}: no JSON document")
    for n, doc in docs:
        errors = sorted(validator.iter_errors(doc), key=str)
        if errors:
            sys.exit(f"{name}:{n}: {errors[0].message}")
    print(f"ok - {name}: {len(docs)} document(s) valid")


def main():
    schema = json.load(open(sys.argv[1]))
    validator = jsonschema.Draft202012Validator(schema)
    if sys.argv[2] == "--sections":
        sections, name = {}, None
        for line in open(sys.argv[3]):
            if line.startswith("=== "):
                name = line[4:].strip()
                sections[name] = ""
            elif name:
                sections[name] += line
        if not sections:
            sys.exit(f"{sys.argv[3]}: no section")
        for name, text in sections.items():
            check(validator, name, text)
        return
    for path in sys.argv[2:]:
        check(validator, path, open(path).read())


main()
