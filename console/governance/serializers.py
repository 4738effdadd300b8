from __future__ import annotations

from rest_framework import serializers

from console.governance.models import Decision, Review, ReviewItem


class ReviewItemSerializer(serializers.ModelSerializer):
    check_kind = serializers.CharField(read_only=True)
    evidence_file = serializers.SerializerMethodField()
    has_evidence = serializers.BooleanField(read_only=True)

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "key",
            "title",
            "guidance",
            "required",
            "evidence_kinds",
            "evidence_text",
            "evidence_link",
            "evidence_file",
            "has_evidence",
            "check_kind",
            "threshold",
            "check_result",
            "check_job",
            "passed",
            "updated_at",
        ]
        read_only_fields = fields

    def get_evidence_file(self, obj: ReviewItem) -> str:
        return obj.evidence_file.name if obj.evidence_file else ""


class ReviewDecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    decision = serializers.CharField(read_only=True)

    class Meta:
        model = Decision
        fields = ["id", "round", "reviewer", "decision", "comment", "at"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    project = serializers.CharField(source="project.slug", read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True, default="")

    class Meta:
        model = Review
        fields = [
            "id",
            "version",
            "project",
            "template_name",
            "state",
            "round",
            "required_approvers",
            "submitted_by",
            "created_at",
            "submitted_at",
            "started_at",
            "decided_at",
        ]
        read_only_fields = fields


class ReviewDetailSerializer(ReviewSerializer):
    items = ReviewItemSerializer(many=True, read_only=True)
    decisions = ReviewDecisionSerializer(many=True, read_only=True)

    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "items", "decisions"]
        read_only_fields = fields


class ReviewOpenSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    template = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, required=False, help_text="Default: Model release."
    )


class ReviewEvidenceSerializer(serializers.Serializer):
    evidence_text = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    evidence_link = serializers.CharField(required=False, allow_blank=True, max_length=500)
    evidence_file = serializers.FileField(required=False, allow_empty_file=False)
    clear_file = serializers.BooleanField(required=False, default=False)


class ReviewCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ReviewStatePatchSerializer(serializers.Serializer):
    """What a client might try to PATCH: refused (403) and audit-logged, always."""

    state = serializers.CharField(required=False)
    required_approvers = serializers.IntegerField(required=False)


class ReviewCheckRunSerializer(serializers.Serializer):
    """Parameters of an automated check; the fact check needs ``qa`` (JSON) or
    ``qa_file`` (multipart: CSV with question,answer columns, or JSON lines)."""

    samples = serializers.IntegerField(required=False, min_value=1, max_value=16)
    max_new_tokens = serializers.IntegerField(required=False, min_value=1, max_value=2048)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=5)
    top_p = serializers.FloatField(required=False, min_value=0.0001, max_value=1)
    repetition_penalty = serializers.FloatField(required=False, min_value=1, max_value=5)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1)
    attributes = serializers.ListField(
        child=serializers.ChoiceField(choices=["gender", "age", "religion", "origin"]),
        required=False,
        max_length=4,
    )
    qa = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(max_length=1000)),
        required=False,
        max_length=1000,
    )
    qa_file = serializers.FileField(required=False)
    match = serializers.ChoiceField(choices=["normalised", "exact"], required=False)
    answer_tokens = serializers.IntegerField(required=False, min_value=1, max_value=128)
