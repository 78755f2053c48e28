"""How a model version's figures read over REST: its scorecard on the held-out test images
and its comparison with the version that was current (documentation for the schema; the
figures are stored by the worker, ``labeler.predictions.scorecard`` and ``comparison``)."""

from __future__ import annotations

from rest_framework import serializers


class FigureSerializer(serializers.Serializer):
    value = serializers.FloatField(
        allow_null=True, help_text="Null when it cannot be computed (reason says why), never 0."
    )
    interval = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        allow_null=True,
        help_text="Its 95% interval [low, high]: Wilson for shares, else a seeded percentile "
        "bootstrap over the test images; null where there is no honest one (reason).",
    )
    n = serializers.IntegerField(help_text="How many images the figure rests on.")
    reason = serializers.CharField(
        allow_null=True, help_text="Why the value or the interval is missing; null otherwise."
    )


class TestSetPerLabelSerializer(serializers.Serializer):
    label = serializers.IntegerField()  # type: ignore[assignment]  # the JSON key, not Field.label
    name = serializers.CharField()
    support = serializers.IntegerField(help_text="Test images that have the label.")
    threshold = serializers.FloatField(
        allow_null=True, help_text="Multi-label: its cut-off, tuned on the validation images."
    )
    precision = FigureSerializer(help_text="n: test images the model gave the label.")
    recall = FigureSerializer(help_text="n: test images that have the label.")
    f1 = FigureSerializer()
    roc_auc = FigureSerializer(help_text="One-vs-rest for single-label projects.")
    average_precision = FigureSerializer()


class AveragesSerializer(serializers.Serializer):
    macro = FigureSerializer(help_text="The unweighted mean over the labels averaged over.")
    micro = FigureSerializer(help_text="Every (image, label) decision pooled.")
    averaged_over = serializers.ListField(child=serializers.IntegerField())
    left_out = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Labels no test image has, or every test image has: nothing to rank.",
    )


class RocCurveSerializer(serializers.Serializer):
    label = serializers.IntegerField(required=False)  # type: ignore[assignment]
    fpr = serializers.ListField(child=serializers.FloatField())
    tpr = serializers.ListField(child=serializers.FloatField())
    points = serializers.IntegerField(
        help_text="Points of the full curve (at most max_points kept)."
    )


class PrCurveSerializer(serializers.Serializer):
    label = serializers.IntegerField(required=False)  # type: ignore[assignment]
    recall = serializers.ListField(child=serializers.FloatField())
    precision = serializers.ListField(child=serializers.FloatField())
    points = serializers.IntegerField()
    base = serializers.FloatField(help_text="The share of positives: a random ranking's precision.")


class CurvesSerializer(serializers.Serializer):
    roc = RocCurveSerializer(many=True, help_text="Per label with test images with and without it.")
    pr = PrCurveSerializer(many=True)
    micro_roc = RocCurveSerializer(allow_null=True)
    macro_roc = RocCurveSerializer(allow_null=True, help_text="The labels' curves averaged.")
    micro_pr = PrCurveSerializer(allow_null=True)
    max_points = serializers.IntegerField()


class CalibrationBinSerializer(serializers.Serializer):
    lower = serializers.FloatField()
    upper = serializers.FloatField()
    count = serializers.IntegerField()
    confidence = serializers.FloatField(allow_null=True, help_text="Mean confidence in the bin.")
    observed = serializers.FloatField(allow_null=True, help_text="How often it came true.")
    interval = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="Wilson 95% of observed."
    )


class CalibrationSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["top label", "every label"],
        help_text="top label: the top label's probability against being right; every label "
        "(multi-label): each label's probability against the image having it.",
    )
    bins = CalibrationBinSerializer(many=True, help_text="The reliability diagram: 10 bins.")
    ece = FigureSerializer(help_text="Expected calibration error over the bins.")


class TestSetFiguresSerializer(serializers.Serializer):
    images = serializers.IntegerField(help_text="Held-out test images scored.")
    labels = serializers.ListField(child=serializers.IntegerField())
    interval_level = serializers.FloatField()
    interval_methods = serializers.DictField(child=serializers.CharField())
    accuracy = FigureSerializer()
    macro_f1 = FigureSerializer()
    micro_f1 = FigureSerializer()
    roc_auc = AveragesSerializer()
    average_precision = AveragesSerializer()
    per_label = TestSetPerLabelSerializer(many=True)
    confusion = serializers.DictField(
        help_text="As the validation figures' confusion, on the test images."
    )
    curves = CurvesSerializer()
    calibration = CalibrationSerializer()


class BaselineSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version that was current.")
    split = serializers.CharField(
        required=False, help_text='"test": compared on the new version\'s test images.'
    )
    images = serializers.IntegerField(
        required=False, help_text="Images compared: those the current one never saw."
    )
    seen = serializers.IntegerField(
        required=False, help_text="Images left out: the current one trained or validated on them."
    )
    unmeasured = serializers.CharField(
        required=False,
        help_text="Why the current version could not be compared, where it could not "
        '("its labels differ", "its weights could not be read").',
    )
    accuracy = serializers.FloatField(required=False, allow_null=True)
    macro_f1 = serializers.FloatField(required=False, allow_null=True)
    candidate_accuracy = serializers.FloatField(
        required=False, allow_null=True, help_text="The new version's accuracy on the same images."
    )
    candidate_macro_f1 = serializers.FloatField(
        required=False, allow_null=True, help_text="The new version's macro-F1 on the same images."
    )
    only_current_right = serializers.IntegerField(required=False)
    only_candidate_right = serializers.IntegerField(required=False)
    test = serializers.CharField(required=False, help_text="exact McNemar test (two-sided)")
    p_value = serializers.FloatField(required=False)
    verdict = serializers.ChoiceField(
        choices=["better", "same", "worse"],
        required=False,
        help_text="The new version against the current one: better or worse beyond noise "
        "(p < 0.05), or same: no difference beyond noise.",
    )
    macro_f1_gain = FigureSerializer(
        required=False, help_text="The new version's macro-F1 minus the current one's."
    )
