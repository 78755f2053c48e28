"""The data browser benchmark's project: a million images with labels, decisions, a model.

Everything is written by ``INSERT ... SELECT FROM generate_series`` inside PostgreSQL (a
million images and their two million annotations in a few minutes on two cores, where the
ORM would take hours). Image ``i`` (0-based, in id order) gets:

- uploaded 20 s after image ``i - 1``, from 2026-01-01; named ``photo_<i>.jpg``;
- two annotators where ``i % 10 < 6`` (complete), one where ``i % 10 == 6`` (in
  progress), none otherwise; a third where ``i % 20 == 1`` (so splits exist). The first
  gives label ``i % 4``, the second the same except every seventh image (a tie), the third
  two labels further;
- a consensus final label where the first two agree, a lead's gold label where
  ``i % 100 == 3``; a skip where ``i % 100 == 7``;
- the current model's prediction on even images: ``i % 4`` (``i + 1`` every ninth, where
  the model then disagrees), with probability 0.40 to 0.99 as its confidence; the
  suggestion shown on every third annotation and accepted on every sixth;
- one label change per annotation, and a consensus watermark saying the final labels
  are current, as the application leaves a project whose refresh has run;
- its metadata: a capture time 30 s after image ``i - 1``'s from 2024-01-01 (none where
  ``i % 10 == 9``); origin ``dataset-a`` or ``dataset-b`` by turns, ``rare-site`` where
  ``i % 1000 == 5``; a position on every fourth image, spread over the globe; and four
  project fields: ``site`` (a choice of ``site-0`` to ``site-9`` by ``i % 10``, ``rare``
  where ``i % 10000 == 7``), ``score`` (a number, ``i % 1000``), ``visit`` (a date in
  2024, ``i % 365`` days in) and ``note`` (text, ``note <i % 500>``, on every fifth).
- a side of the held-out test split for every final-labelled image, one in ten a test
  image.

The project is found by name and reused while its image count matches and it has its
fields (a project the builder made before it wrote metadata is made again).
"""

from __future__ import annotations

import time
from typing import Any

LABELS = ["cat", "dog", "bird", "fish"]
SITES = [*(f"site-{n}" for n in range(10)), "rare"]
FIELDS = {"site": "choice", "score": "number", "visit": "date", "note": "text"}
LEAD = "bench-browse-lead"
ANNOTATORS = ["bench-browse-ann1", "bench-browse-ann2", "bench-browse-ann3"]
PASSWORD = "bench-browse-password"


def project_name(size: int) -> str:
    return f"Browse benchmark: {size} images"


def project_prepare(size: int) -> Any:
    """The benchmark project of ``size`` images, created unless it exists at that size."""
    from labeler.images.models import Image, MetadataField
    from labeler.projects.models import Project

    found = Project.objects.filter(name=project_name(size)).order_by("id").first()
    if (
        found is not None
        and Image.objects.filter(project=found).count() == size
        and MetadataField.objects.filter(project=found).count() == len(FIELDS)
    ):
        _split_fill(found)
        return found
    if found is not None:
        found.delete()
    started = time.perf_counter()
    project = _create(size)
    print(f"created {project.name} in {time.perf_counter() - started:.0f} s", flush=True)
    return project


def _split_fill(project: Any) -> None:
    """The test split's sides, in a project made before the benchmark gave it one."""
    from django.db import connection

    from labeler.predictions.models import SplitAssignment

    if not SplitAssignment.objects.filter(project=project).exists():
        with connection.cursor() as cursor:
            cursor.execute(SPLIT_SQL, {"project": project.pk})
            cursor.execute("ANALYZE predictions_splitassignment")


def _create(size: int) -> Any:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from labeler.agreement.final_labels import consensus_rules
    from labeler.images.models import MetadataField
    from labeler.predictions.models import ModelVersion
    from labeler.projects.models import Label, Membership, Project, Role

    password = make_password(PASSWORD)
    users = {}
    for name in (LEAD, *ANNOTATORS):
        users[name], _ = User.objects.get_or_create(username=name, defaults={"password": password})
    with transaction.atomic():
        project = Project.objects.create(name=project_name(size), overlap=2, retrain_after=0)
        labels = [
            Label.objects.create(
                project=project, name=name, color="#3366cc", hotkey=str(n + 1), position=n
            )
            for n, name in enumerate(LABELS)
        ]
        for name, user in users.items():
            role = Role.LEAD if name == LEAD else Role.ANNOTATOR
            Membership.objects.create(project=project, user=user, role=role)
        model = ModelVersion.objects.create(project=project, version=1, is_current=True)
        fields = {
            name: MetadataField.objects.create(
                project=project, name=name, kind=kind, choices=SITES if kind == "choice" else []
            ).pk
            for name, kind in FIELDS.items()
        }
        params: dict[str, Any] = {
            **{f"field_{name}": pk for name, pk in fields.items()},
            "project": project.pk,
            "size": size,
            "model": model.pk,
            "lead": users[LEAD].pk,
            "a1": users[ANNOTATORS[0]].pk,
            "a2": users[ANNOTATORS[1]].pk,
            "a3": users[ANNOTATORS[2]].pk,
            "label0": labels[0].pk,
            "rules": consensus_rules(project),
        }
        with connection.cursor() as cursor:
            for step, sql in STEPS:
                started = time.perf_counter()
                cursor.execute(sql, params)
                print(f"  {step}: {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return project


# i is the image's 0-based number in the project: id - (the project's first id).
_FIRST = "(SELECT MIN(id) FROM images_image WHERE project_id = %(project)s)"
# Every final-labelled image has a side of the test split: those where i % 10 == 2 are test
# images (a tenth of the images, a sixth of the final-labelled ones).
SPLIT_SQL = f"""
    INSERT INTO predictions_splitassignment (image_id, project_id, side, assigned_at)
    SELECT fl.image_id, %(project)s,
        CASE WHEN (fl.image_id - f.first) %% 10 = 2 THEN 'test' ELSE 'development' END, now()
    FROM annotations_finallabel fl JOIN images_image img ON img.id = fl.image_id
        CROSS JOIN (SELECT {_FIRST} AS first) f
    WHERE img.project_id = %(project)s
"""

STEPS = [
    (
        "images",
        """
        INSERT INTO images_image (project_id, file, thumbnail, original_name, sha256, width,
            height, format, size_bytes, priority, annotation_count, is_complete, created_at,
            captured_at, origin, gps_latitude, gps_longitude)
        SELECT %(project)s, 'images/bench/browse.jpg', '', 'photo_' || lpad(i::text, 7, '0')
                || '.jpg', lpad(to_hex(%(project)s), 16, '0') || lpad(to_hex(i), 48, '0'),
            320, 240, 'JPEG', 20000, (i %% 13)::float,
            CASE WHEN i %% 10 < 6 THEN 2 + (i %% 20 = 1)::int
                 WHEN i %% 10 = 6 THEN 1 ELSE 0 END,
            i %% 10 < 6,
            timestamptz '2026-01-01 00:00:00+00' + i * interval '20 seconds',
            CASE WHEN i %% 10 <> 9
                 THEN timestamptz '2024-01-01 00:00:00+00' + i * interval '30 seconds' END,
            CASE WHEN i %% 1000 = 5 THEN 'rare-site'
                 WHEN i %% 2 = 0 THEN 'dataset-a' ELSE 'dataset-b' END,
            CASE WHEN i %% 4 = 0 THEN -60 + (i * 7 %% 12000) / 100.0 END,
            CASE WHEN i %% 4 = 0 THEN -180 + (i * 13 %% 36000) / 100.0 END
        FROM generate_series(0, %(size)s - 1) AS i
        """,
    ),
    (
        "annotations",
        f"""
        INSERT INTO annotations_annotation (project_id, image_id, annotator_id,
            suggestion_accepted, suggestion_shown, suggestion_withheld, created_at, updated_at)
        SELECT %(project)s, img.id, who.annotator,
            ((img.id - f.first) %% 6 = 0), ((img.id - f.first) %% 3 = 0), false,
            img.created_at + interval '1 hour', img.created_at + interval '1 hour'
        FROM images_image img
        CROSS JOIN (SELECT {_FIRST} AS first) f
        CROSS JOIN (VALUES (1, %(a1)s), (2, %(a2)s), (3, %(a3)s)) AS who(n, annotator)
        WHERE img.project_id = %(project)s AND who.n <= img.annotation_count
        """,
    ),
    (
        "annotation labels",
        f"""
        INSERT INTO annotations_annotation_labels (annotation_id, label_id)
        SELECT a.id, %(label0)s + CASE
                WHEN a.annotator_id = %(a1)s THEN (a.image_id - f.first) %% 4
                WHEN a.annotator_id = %(a2)s THEN ((a.image_id - f.first)
                    + ((a.image_id - f.first) %% 7 = 0)::int) %% 4
                ELSE ((a.image_id - f.first) + 2) %% 4 END
        FROM annotations_annotation a CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE a.project_id = %(project)s
        """,
    ),
    (
        "label changes",
        """
        INSERT INTO annotations_labelchange (project_id, image_id, kind, method, annotator_id,
            annotation_id, from_label_ids, to_label_ids, created_at)
        SELECT %(project)s, a.image_id, 'annotation_created', '', a.annotator_id, a.id,
            '[]'::jsonb, jsonb_build_array(al.label_id), a.created_at
        FROM annotations_annotation a
        JOIN annotations_annotation_labels al ON al.annotation_id = a.id
        WHERE a.project_id = %(project)s
        ORDER BY a.id
        """,
    ),
    (
        "final labels",
        f"""
        INSERT INTO annotations_finallabel (image_id, method, confidence, decided_by_id,
            created_at, updated_at)
        SELECT img.id,
            CASE WHEN (img.id - f.first) %% 100 = 3 THEN 'gold' ELSE 'consensus' END,
            CASE WHEN (img.id - f.first) %% 100 = 3 THEN 1.0
                 ELSE 0.5 + ((img.id - f.first) %% 50) / 100.0 END,
            CASE WHEN (img.id - f.first) %% 100 = 3 THEN %(lead)s END,
            img.created_at + interval '2 hours', img.created_at + interval '2 hours'
        FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s AND ((img.id - f.first) %% 100 = 3
            OR ((img.id - f.first) %% 10 < 6 AND (img.id - f.first) %% 7 <> 0
                AND (img.id - f.first) %% 20 <> 1))
        """,
    ),
    (
        "final label labels",
        f"""
        INSERT INTO annotations_finallabel_labels (finallabel_id, label_id)
        SELECT fl.id, %(label0)s + (fl.image_id - f.first) %% 4
        FROM annotations_finallabel fl JOIN images_image img ON img.id = fl.image_id
        CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s
        """,
    ),
    (
        "skips",
        f"""
        INSERT INTO annotations_skip (project_id, image_id, annotator_id, reason, created_at)
        SELECT %(project)s, img.id, %(a3)s, '', img.created_at
        FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s AND (img.id - f.first) %% 100 = 7
        """,
    ),
    (
        "predictions",
        f"""
        INSERT INTO predictions_prediction (image_id, model_version_id, probabilities,
            confidence, created_at)
        SELECT p.id, %(model)s, jsonb_object_agg((%(label0)s + l)::text,
                CASE WHEN l = p.top THEN p.best ELSE round(((1 - p.best) / 3)::numeric, 4) END),
            MAX(p.best), MAX(p.created_at)
        FROM (
            SELECT img.id, img.created_at,
                ((img.id - f.first) + ((img.id - f.first) %% 9 = 0)::int) %% 4 AS top,
                round((0.40 + ((img.id - f.first) %% 60) / 100.0)::numeric, 2) AS best
            FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
            WHERE img.project_id = %(project)s AND (img.id - f.first) %% 2 = 0
        ) p CROSS JOIN generate_series(0, 3) AS l
        GROUP BY p.id
        """,
    ),
    (
        "field values",
        f"""
        INSERT INTO images_fieldvalue (field_id, image_id, text, number, date)
        SELECT %(field_site)s, img.id,
            CASE WHEN (img.id - f.first) %% 10000 = 7 THEN 'rare'
                 ELSE 'site-' || ((img.id - f.first) %% 10)::text END,
            NULL::double precision, NULL::date
        FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s
        UNION ALL
        SELECT %(field_score)s, img.id, NULL, ((img.id - f.first) %% 1000)::float, NULL
        FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s
        UNION ALL
        SELECT %(field_visit)s, img.id, NULL, NULL,
            date '2024-01-01' + ((img.id - f.first) %% 365)::int
        FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s
        UNION ALL
        SELECT %(field_note)s, img.id, 'note ' || ((img.id - f.first) %% 500)::text, NULL, NULL
        FROM images_image img CROSS JOIN (SELECT {_FIRST} AS first) f
        WHERE img.project_id = %(project)s AND (img.id - f.first) %% 5 = 0
        """,
    ),
    (
        "test split",
        SPLIT_SQL,
    ),
    (
        "watermark",
        """
        INSERT INTO agreement_consensuswatermark (project_id, change_count, last_change_id,
            rules, refreshed_at)
        SELECT %(project)s, COUNT(id), COALESCE(MAX(id), 0), %(rules)s, now()
        FROM annotations_labelchange WHERE project_id = %(project)s
        """,
    ),
]
