"""MkDocs hook: the REST API reference page, rendered from the OpenAPI schema at build time.

``manage.py spectacular`` writes the schema the server itself serves at
``/api/v1/schema/``; this hook turns it into ``api-reference.md`` (every operation with
its parameters, request body and answers, then every schema's fields) and adds the
schema itself as ``openapi.json`` beside the pages. Neither file is kept in the
repository, so the reference cannot fall behind the code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PAGE = "api-reference.md"
SCHEMA = "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    schema = _schema()
    files.append(File.generated(config, PAGE, content=render(schema)))
    files.append(File.generated(config, SCHEMA, content=json.dumps(schema, indent=1)))
    return files


def _schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "schema.json"
        env = {**os.environ, "DEBUG": "1"}
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "spectacular",
                "--format",
                "openapi-json",
                "--fail-on-warn",
                "--file",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        schema: dict[str, Any] = json.loads(out.read_text())
        return schema


def _text(value: object) -> str:
    """One table cell: no line breaks, pipes escaped, no raw HTML."""
    text = " ".join(str(value or "").split())
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _anchor(name: str) -> str:
    return "schema-" + name.lower()


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            return " or ".join(_type(part) for part in schema[key])
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        values = ", ".join(f"`{value}`" for value in schema["enum"] if value not in ("", None))
        return f"{kind or 'one of'}: {values}" if values else kind
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else (kind or "any")


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if op.get("description") or op.get("summary"):
        lines += [_text(op.get("description") or op.get("summary")), ""]
    params = op.get("parameters", [])
    if params:
        lines += [
            "| parameter | in | type | required | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for p in params:
            required = "yes" if p.get("required") else ""
            lines.append(
                f"| `{p['name']}` | {p['in']} | {_text(_type(p.get('schema', {})))} "
                f"| {required} | {_text(p.get('description'))} |"
            )
        lines.append("")
    body = op.get("requestBody")
    if body:
        kinds = body.get("content", {})
        shown = ", ".join(
            f"{_type(content.get('schema', {}))} as `{kind}`" for kind, content in kinds.items()
        )
        lines += [f"**Request body**{' (required)' if body.get('required') else ''}: {shown}", ""]
    answers = op.get("responses", {})
    if answers:
        lines += ["| answer | body | meaning |", "| --- | --- | --- |"]
        for code, answer in answers.items():
            contents = answer.get("content", {})
            schema = next(iter(contents.values()), {}).get("schema") if contents else None
            body_type = _type(schema) if schema else ""
            lines.append(f"| {code} | {body_type} | {_text(answer.get('description'))} |")
        lines.append("")
    return lines


def _component(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{ #{_anchor(name)} }}", ""]
    if schema.get("description"):
        lines += [_text(schema["description"]), ""]
    props = schema.get("properties")
    if not props:
        lines += [f"Type: {_text(_type(schema))}", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | | description |", "| --- | --- | --- | --- |"]
    for field, spec in props.items():
        notes = [
            note
            for note, present in (
                ("required", field in required and not spec.get("readOnly")),
                ("read-only", spec.get("readOnly")),
                ("write-only", spec.get("writeOnly")),
                ("nullable", spec.get("nullable")),
            )
            if present
        ]
        lines.append(
            f"| `{field}` | {_text(_type(spec))} | {', '.join(notes)} "
            f"| {_text(spec.get('description'))} |"
        )
    lines.append("")
    return lines


def render(schema: dict[str, Any]) -> str:
    """The reference page's Markdown: operations grouped by tag, then the schemas."""
    info = schema.get("info", {})
    lines = [
        "# API reference",
        "",
        f"{_text(info.get('title'))} {_text(info.get('version'))}: rendered from the OpenAPI "
        f"schema at build time ([download it]({SCHEMA}); a running server serves the same "
        "schema at `/api/v1/schema/` and browsable docs at `/api/v1/docs/`). How to "
        "authenticate, errors, retries and examples: [REST API](api.md).",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((path, method, item[method]))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for path, method, op in by_tag[tag]:
            lines += _operation(path, method, op)
    lines += ["## Schemas", ""]
    for name, component in sorted(schema.get("components", {}).get("schemas", {}).items()):
        lines += _component(name, component)
    return "\n".join(lines) + "\n"
