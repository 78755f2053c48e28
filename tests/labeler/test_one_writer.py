"""Every table below has one writer, and no other module writes it.

``labeler.agreement.final_writes`` writes every ``FinalLabel`` row (and its labels),
``labeler.annotations.history`` every ``LabelChange`` row beside the database trigger
that logs annotators' submits (migration annotations 0005); annotations are written by
the submit (its statements in ``submit_sql``) and the annotations' services, leases by
the queue's gate and its statements, audit entries by ``audit_record`` (the database's
triggers keep them append-only), projects by the projects' services. Of ``Image``, two
things have one owner: the queue state (``priority``, ``annotation_count``,
``is_complete``, ``extra_annotations``: ``labeler.images.queue_state``) and the deletion
of images (``labeler.images.deletion``; a project's deletion deletes its images there
first, ``flows.project_delete``).

The walk reads every module of the domain, the API, the pages and the worker, and fails
on any other write: a manager's or queryset's write (``create``, ``bulk_create``,
``update``, ``delete``...) on a model or the final labels' labels table, a final label's
labels set or saved by hand, an instance named for its model saved or deleted
(``project.save()``, ``image.delete()``), a queue-state column set (``.update(priority=...)``,
``image.priority = ...``, ``save(update_fields=["priority"])``, ``bulk_update(...,
["priority"])``) or SQL that inserts into, updates (for ``Image``: sets a queue-state
column of) or deletes from their tables. (Rows that go with a deleted image or project
go by the database's cascade, which is no writer's.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.ast_parse import ast_parse

ROOT = Path(__file__).resolve().parents[2]
WALKED = ("labeler", "api", "worker")
QUEUE_STATE = "Image queue state"
IMAGE_DELETION = "Image deletion"
OWNERS: dict[str, tuple[str, ...]] = {
    "FinalLabel": ("labeler/agreement/final_writes.py",),
    "LabelChange": ("labeler/annotations/history.py",),
    # An image's side of the held-out test split is decided once, by its one writer.
    "SplitAssignment": ("labeler/predictions/test_split.py",),
    # Who a provider's account is, and the roles its groups gave (single sign-on).
    "OidcIdentity": ("labeler/sso/identities.py",),
    "RoleGrant": ("labeler/sso/roles.py",),
    # A label given or changed is the submit's (``submit_sql`` holds its statements and
    # is called by it alone); taken back, reassigned or backdated, the services'.
    "Annotation": (
        "labeler/annotations/submit.py",
        "labeler/annotations/submit_sql.py",
        "labeler/annotations/services.py",
    ),
    # Leases: the queue's gate and its statements (a submit's release embeds one).
    "Assignment": ("labeler/annotations/queue.py", "labeler/annotations/queue_sql.py"),
    "AuditEntry": ("labeler/audit/services.py",),
    "Project": ("labeler/projects/services.py",),
    # People: who is a member (and who was removed by hand), which account an address is.
    "Membership": ("labeler/projects/services.py",),
    "MembershipRemoval": ("labeler/projects/services.py",),
    "VerifiedAddress": ("labeler/projects/addresses.py",),
    QUEUE_STATE: ("labeler/images/queue_state.py",),
    IMAGE_DELETION: ("labeler/images/deletion.py",),
}
# Models whose every write counts, by the name code reaches them by (``Image`` has only
# its queue state and its deletion owned: other columns are the images layer's to write).
MODELS = {name for name in OWNERS if " " not in name} | {"Image"}
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
# ``Project.objects.raw`` reads (``projects.selectors``), as does ``Annotation``'s through
# ``labeler.raw_rows`` (an import's read of a person's annotation); their SQL is walked as
# text, so a raw statement that writes their tables is still found. ``raw_first(Model,
# sql, ...)`` and ``raw_all`` are walked as ``Model.objects.raw``.
RAW_READS = {"Project", "Annotation"}
RAW_ROWS = {"raw_first", "raw_all"}
LABEL_WRITES = {"set", "add", "remove", "clear"}
# An instance named for its model (``project.save()``, ``image.delete()``).
INSTANCES = {"project": "Project", "annotation": "Annotation", "image": "Image", "images": "Image"}
QUEUE_STATE_FIELDS = ("priority", "annotation_count", "is_complete", "extra_annotations")
TABLES = {
    "FinalLabel": ("annotations_finallabel", "{final}"),
    "LabelChange": ("annotations_labelchange", "{history}", "{label_change}"),
    "SplitAssignment": ("predictions_splitassignment",),
    "OidcIdentity": ("sso_oidcidentity",),
    "RoleGrant": ("sso_rolegrant",),
    "Annotation": ("annotations_annotation", "annotations_annotation_labels", "{annotation}"),
    "Assignment": ("annotations_assignment", "{lease}"),
    "AuditEntry": ("audit_auditentry",),
    "Project": ("projects_project",),
    "Membership": ("projects_membership",),
    "MembershipRemoval": ("projects_membershipremoval",),
    "VerifiedAddress": ("projects_verifiedaddress",),
}
IMAGE_TABLES = ("images_image", "{image}")
SQL_WRITE = r"(insert\s+into|update|delete\s+from)\s+\"?{table}(?!\w)"
SQL_IMAGE_DELETE = r"delete\s+from\s+\"?{table}(?!\w)"
# An UPDATE of the image table whose SET clause (up to its WHERE) sets a queue-state column.
SQL_QUEUE_STATE = (
    r"update\s+\"?{table}(?!\w)\"?\s+set\s(?:(?!\bwhere\b)[^;])*?\b("
    + "|".join(QUEUE_STATE_FIELDS)
    + r")\b\s*="
)


def _root(node: ast.expr) -> ast.expr:
    """The name a chain of attributes, calls and subscripts starts from."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _model_of(node: ast.expr, aliases: dict[str, str]) -> str | None:
    root = _root(node)
    if isinstance(root, ast.Name):
        if root.id in MODELS:
            return root.id
        return aliases.get(root.id)
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Names bound to a model or something hanging off it (``through = FinalLabel.labels
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


def _names(node: ast.expr | None) -> set[str]:
    """The strings a list, tuple or set of constants holds (``update_fields=[...]``)."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return {
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        }
    return set()


def _set_columns(call: ast.Call) -> set[str]:
    """The columns a call's keywords set, ``defaults={...}`` and ``**{...}`` included."""
    columns = {keyword.arg for keyword in call.keywords if keyword.arg is not None}
    for keyword in call.keywords:
        if (keyword.arg in (None, "defaults", "create_defaults")) and isinstance(
            keyword.value, ast.Dict
        ):
            columns |= {
                k.value
                for k in keyword.value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
    return columns & set(QUEUE_STATE_FIELDS)


def _model_writes(node: ast.Call, aliases: dict[str, str]) -> list[str]:
    assert isinstance(node.func, ast.Attribute)
    method, receiver = node.func.attr, node.func.value
    model = _model_of(receiver, aliases)
    if model is None and isinstance(receiver, ast.Name | ast.Attribute):
        name = receiver.id if isinstance(receiver, ast.Name) else receiver.attr
        if method in ("save", "delete"):
            model = INSTANCES.get(name)
    if model is None or method not in WRITES or (method == "raw" and model in RAW_READS):
        return []
    if model != "Image":
        return [f"{model}: .{method}()"]
    found = []
    if method == "delete":
        found.append(f"{IMAGE_DELETION}: .delete()")
    columns = _set_columns(node)
    if method == "bulk_update":
        columns |= set().union(*(_names(arg) for arg in node.args[1:]))
        columns |= set().union(*(_names(k.value) for k in node.keywords if k.arg == "fields"))
    found += [f"{QUEUE_STATE}: .{method}() sets {c}" for c in sorted(columns)]
    return found


def _queue_state_writes(node: ast.AST) -> list[str]:
    """Queue-state columns set on any instance, saved by name, or given to a new row."""
    found = []
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in QUEUE_STATE_FIELDS:
                found.append(f"{QUEUE_STATE}: .{target.attr} set")
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg == "update_fields":
                for column in sorted(_names(keyword.value) & set(QUEUE_STATE_FIELDS)):
                    found.append(f"{QUEUE_STATE}: saved with {column}")
        if isinstance(node.func, ast.Name) and node.func.id == "Image":
            found += [f"{QUEUE_STATE}: Image({c}=...)" for c in sorted(_set_columns(node))]
    return found


def _sql_writes(text: str) -> list[str]:
    found = []
    for model, tables in TABLES.items():
        for table in tables:
            if re.search(SQL_WRITE.format(table=re.escape(table)), text, re.IGNORECASE):
                found.append(f"{model}: SQL writing {table}")
    for table in IMAGE_TABLES:
        if re.search(SQL_IMAGE_DELETE.format(table=re.escape(table)), text, re.IGNORECASE):
            found.append(f"{IMAGE_DELETION}: SQL deleting from {table}")
        sets = SQL_QUEUE_STATE.format(table=re.escape(table))
        if re.search(sets, text, re.IGNORECASE):
            found.append(f"{QUEUE_STATE}: SQL setting it in {table}")
    return found


def writes_in(source: str) -> list[tuple[int, str]]:
    """(line, what) of every write of an owned table (or of an image's queue state or
    rows) in the source."""
    tree = ast_parse(source)
    aliases = _aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        found += [(line, what) for what in _queue_state_writes(node)]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in RAW_ROWS
            and node.args
        ):
            model = _model_of(node.args[0], aliases)
            if model in MODELS and model not in RAW_READS and model != "Image":
                found.append((line, f"{model}: {node.func.id}()"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            found += [(line, what) for what in _model_writes(node, aliases)]
            method, chain = node.func.attr, node.func.value
            if (
                method in LABEL_WRITES
                and isinstance(chain, ast.Attribute)
                and chain.attr == "labels"
                and isinstance(_root(chain), ast.Name)
                and "final" in _root(chain).id.lower()  # type: ignore[attr-defined]
            ):
                found.append((line, f"FinalLabel: .labels.{method}()"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [(line, what) for what in _sql_writes(node.value)]
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
raw_first(FinalLabel, sql, [1])
raw_all(Project, sql, [1])
"""
    found = [what for _, what in writes_in(source)]
    assert len(found) == 11
    assert "FinalLabel: raw_first()" in found
    assert found.count("FinalLabel: .labels.set()") == 1
    assert "LabelChange: SQL writing annotations_labelchange" in found
    assert "FinalLabel: SQL writing {final}" in found


def test_the_walk_finds_the_new_owners_writes():
    """Annotations, leases, audit entries and projects written, an image's queue state set
    and images deleted, each way the walk knows; reads and other columns are no writes."""
    source = """
Annotation.objects.filter(pk=1).update(created_at=at)
annotation.save(update_fields=["time_spent_ms"])
Assignment.objects.filter(image=image).delete()
cursor.execute("DELETE FROM {lease} WHERE id = %(lease)s", {})
AuditEntry.objects.create(action="x")
project.save()
Project.objects.filter(pk=1).update(name="x")
Image.objects.filter(pk__in=ids).update(priority=3)
Image.objects.filter(pk=1).update(**{"is_complete": True})
image.annotation_count = F("annotation_count") - 1
image.save(update_fields=["is_complete"])
Image.objects.bulk_update(images, ["priority"], batch_size=100)
Image(pk=1, extra_annotations=2)
cursor.execute("UPDATE images_image SET annotation_count = 0 WHERE project_id = %s", [1])
Image.objects.filter(project=project).delete()
image.delete()
cursor.execute("DELETE FROM {image} WHERE id = %s", [1])
Image.objects.filter(pk=1).update(faces_state="done")
Image.objects.filter(is_complete=False).values_list("pk", flat=True)
cursor.execute("UPDATE {image} SET problem = '' WHERE NOT is_complete", [])
Project.objects.raw("SELECT * FROM projects_project")
Annotation.objects.filter(project=project).count()
raw_all(Annotation, "SELECT a.* FROM {annotation} a WHERE a.image_id = %s", [1])
raw_all(Annotation, "UPDATE {annotation} SET time_spent_ms = 0 RETURNING *", [1])
"""
    found = [what for _, what in writes_in(source)]
    assert found.count(f"{QUEUE_STATE}: .update() sets priority") == 1
    assert f"{QUEUE_STATE}: .update() sets is_complete" in found
    assert f"{QUEUE_STATE}: .annotation_count set" in found
    assert f"{QUEUE_STATE}: saved with is_complete" in found
    assert f"{QUEUE_STATE}: .bulk_update() sets priority" in found
    assert f"{QUEUE_STATE}: Image(extra_annotations=...)" in found
    assert f"{QUEUE_STATE}: SQL setting it in images_image" in found
    assert found.count(f"{IMAGE_DELETION}: .delete()") == 2
    assert f"{IMAGE_DELETION}: SQL deleting from {{image}}" in found
    assert "Assignment: SQL writing {lease}" in found
    assert "Annotation: SQL writing {annotation}" in found  # a raw read that writes
    models = [what.split(":")[0] for what in found]
    assert models.count("Annotation") == 3
    assert models.count("Assignment") == 2
    assert models.count("AuditEntry") == 1
    assert models.count("Project") == 2
    assert models.count(QUEUE_STATE) == 7
    assert models.count(IMAGE_DELETION) == 3
    assert len(found) == 18


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_owner_writes_each_table(path: Path):
    """Every module but the owner of each table leaves it to its owner."""
    relative = path.relative_to(ROOT).as_posix()
    strays = [
        f"{relative}:{line}: {what} (its one writer: {', '.join(OWNERS[what.split(':')[0]])})"
        for line, what in writes_in(path.read_text())
        if relative not in OWNERS[what.split(":")[0]]
    ]
    assert strays == []


def test_the_owners_are_where_the_walk_looks():
    """Every owner exists, and each of its modules holds writes of its table (the walk
    would not notice an owner that moved and left its name behind)."""
    for model, owners in OWNERS.items():
        for owner in owners:
            found = writes_in((ROOT / owner).read_text())
            assert any(what.startswith(f"{model}:") for _, what in found), owner


def _methods(path: str, cls: str) -> set[str]:
    tree = ast_parse((ROOT / path).read_text())
    [found] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == cls]
    return {node.name for node in found.body if isinstance(node, ast.FunctionDef)}


def test_the_admin_saves_and_deletes_through_the_owners():
    """The admin site saves and deletes by itself, out of the walk's sight: the image
    admin sets a priority through the queue state's writer and deletes images the one
    way images are deleted; the project admin deletes a project by the flow, which
    deletes its images that way first."""
    image_admin = _methods("labeler/images/admin.py", "ImageAdmin")
    assert {"save_model", "delete_model", "delete_queryset"} <= image_admin
    project_admin = _methods("labeler/projects/admin.py", "ProjectAdmin")
    assert {"delete_model", "delete_queryset"} <= project_admin
