"""Final labels, the label history and the test split's assignment each have one writer,
and no other module writes them.

``labeler.agreement.final_writes`` writes every ``FinalLabel`` row (and its labels),
``labeler.annotations.history`` every ``LabelChange`` row beside the database trigger
that logs annotators' submits (migration annotations 0005). The walk reads every module
of the domain, the API, the pages and the worker, and fails on any other write: a
manager's or queryset's write (``create``, ``bulk_create``, ``update``, ``delete``...)
on either model or the final labels' labels table, a final label's labels set or saved
by hand, or SQL that inserts into, updates or deletes from their tables. (Rows that go
with a deleted image or project go by the database's cascade, which is no writer's.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.ast_parse import ast_parse

ROOT = Path(__file__).resolve().parents[2]
WALKED = ("labeler", "api", "worker")
OWNERS = {
    "FinalLabel": "labeler/agreement/final_writes.py",
    "LabelChange": "labeler/annotations/history.py",
    # An image's side of the held-out test split is decided once, by its one writer.
    "SplitAssignment": "labeler/predictions/test_split.py",
    # Who a provider's account is, and the roles its groups gave (single sign-on).
    "OidcIdentity": "labeler/sso/identities.py",
    "RoleGrant": "labeler/sso/roles.py",
}
WRITES = {
    "create",
    "bulk_create",
    "get_or_create",
    "update_or_create",
    "update",
    "bulk_update",
    "delete",
    "save",
    "raw",
}
LABEL_WRITES = {"set", "add", "remove", "clear"}
TABLES = {
    "FinalLabel": ("annotations_finallabel", "{final}"),
    "LabelChange": ("annotations_labelchange", "{history}", "{label_change}"),
    "SplitAssignment": ("predictions_splitassignment",),
    "OidcIdentity": ("sso_oidcidentity",),
    "RoleGrant": ("sso_rolegrant",),
}
SQL_WRITE = r"(insert\s+into|update|delete\s+from)\s+\"?{table}(?!\w)"


def _root(node: ast.expr) -> ast.expr:
    """The name a chain of attributes, calls and subscripts starts from."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _model_of(node: ast.expr, aliases: dict[str, str]) -> str | None:
    root = _root(node)
    if isinstance(root, ast.Name):
        if root.id in OWNERS:
            return root.id
        return aliases.get(root.id)
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Names bound to either model or something hanging off it (``through = FinalLabel.labels
    .through``, ``finals = FinalLabel.objects.filter(...)``)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                model = _model_of(node.value, found)
                if model is not None and _root(node.value) is not node.value:
                    found[target.id] = model
    return found


def writes_in(source: str) -> list[tuple[int, str]]:
    """(line, what) of every write of final labels or label history in the source."""
    tree = ast_parse(source)
    aliases = _aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            model = _model_of(receiver, aliases)
            if model is not None and method in WRITES:
                found.append((node.lineno, f"{model}: .{method}()"))
            chain = receiver
            if (
                method in LABEL_WRITES
                and isinstance(chain, ast.Attribute)
                and chain.attr == "labels"
                and isinstance(_root(chain), ast.Name)
                and "final" in _root(chain).id.lower()  # type: ignore[attr-defined]
            ):
                found.append((node.lineno, f"FinalLabel: .labels.{method}()"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for model, tables in TABLES.items():
                for table in tables:
                    pattern = SQL_WRITE.format(table=re.escape(table))
                    if re.search(pattern, node.value, re.IGNORECASE):
                        found.append((node.lineno, f"{model}: SQL writing {table}"))
    return found


def _modules() -> list[Path]:
    return sorted(
        path
        for top in WALKED
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_the_walk_finds_every_kind_of_write():
    """The walk itself: each way of writing is found (else the test below proves nothing)."""
    source = """
FinalLabel.objects.create(image_id=1, method="gold")
FinalLabel.objects.filter(image_id__in=ids).update(method="gold")
FinalLabel.objects.filter(image_id__in=ids).exclude(method="gold").delete()
through = FinalLabel.labels.through
through.objects.bulk_create(rows)
final, _ = FinalLabel.objects.update_or_create(image_id=1, defaults={})
final.labels.set(labels)
LabelChange.objects.bulk_create(changes)
LabelChange.objects.filter(annotation_id=1).update(created_at=at)
cursor.execute("INSERT INTO annotations_labelchange (kind) VALUES (%s)", ["x"])
cursor.execute("DELETE FROM {final} WHERE image_id = %s", [1])
FinalLabel.objects.filter(image_id=1).exists()
LabelChange.objects.filter(project=project).count()
"""
    found = [what for _, what in writes_in(source)]
    assert len(found) == 10
    assert found.count("FinalLabel: .labels.set()") == 1
    assert "LabelChange: SQL writing annotations_labelchange" in found
    assert "FinalLabel: SQL writing {final}" in found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_owner_writes_final_labels_and_label_history(path: Path):
    """Every module but the owner of each table leaves it to its owner."""
    relative = path.relative_to(ROOT).as_posix()
    strays = [
        f"{relative}:{line}: {what} (its one writer is {OWNERS[what.split(':')[0]]})"
        for line, what in writes_in(path.read_text())
        if OWNERS[what.split(":")[0]] != relative
    ]
    assert strays == []


def test_the_owners_are_where_the_walk_looks():
    """Both owners exist, and each holds writes of its table (the walk would not notice
    an owner that moved and left its name behind)."""
    for model, owner in OWNERS.items():
        found = writes_in((ROOT / owner).read_text())
        assert any(what.startswith(f"{model}:") for _, what in found), owner
