from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from console.accounts import api as accounts_api
from console.alerts import api_urls as alerts_api_urls
from console.audit import api as audit_api
from console.carbon import api as carbon_api
from console.cards import api as cards_api
from console.core.api import api_not_found
from console.data import api as data_api
from console.energy import api_urls as energy_api_urls
from console.fleet import agent_api
from console.fleet import api as fleet_api
from console.governance import api as governance_api
from console.jobs import api as jobs_api
from console.metrics import api as metrics_api
from console.projects import api as projects_api
from console.registry import api as registry_api
from console.runs import api as runs_api

admin.site.site_header = "Forge administration"
admin.site.site_title = "Forge admin"

api_v1 = [
    path("me/", accounts_api.MeApi.as_view(), name="me"),
    path("tokens/", accounts_api.ApiTokenListApi.as_view(), name="tokens"),
    path(
        "tokens/<id:token_id>/revoke/",
        accounts_api.ApiTokenRevokeApi.as_view(),
        name="token-revoke",
    ),
    path("projects/", projects_api.ProjectListApi.as_view(), name="projects"),
    path("projects/<slug:slug>/", projects_api.ProjectDetailApi.as_view(), name="project-detail"),
    path("job-kinds/", jobs_api.JobKindListApi.as_view(), name="job-kinds"),
    path("jobs/", jobs_api.JobListApi.as_view(), name="jobs"),
    path("jobs/<id:job_id>/", jobs_api.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<id:job_id>/cancel/", jobs_api.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<id:job_id>/pause/", jobs_api.JobPauseApi.as_view(), name="job-pause"),
    path("jobs/<id:job_id>/run-now/", jobs_api.JobRunNowApi.as_view(), name="job-run-now"),
    path("carbon/forecast/", carbon_api.ForecastApi.as_view(), name="carbon-forecast"),
    path("jobs/<id:job_id>/resume/", jobs_api.JobResumeApi.as_view(), name="job-resume"),
    path("jobs/<id:job_id>/approve/", jobs_api.JobApproveApi.as_view(), name="job-approve"),
    path("jobs/<id:job_id>/reject/", jobs_api.JobRejectApi.as_view(), name="job-reject"),
    path("jobs/<id:job_id>/metrics/", metrics_api.JobMetricsApi.as_view(), name="job-metrics"),
    path("nodes/", fleet_api.NodeListApi.as_view(), name="nodes"),
    path("nodes/<slug:name>/", fleet_api.NodeDetailApi.as_view(), name="node-detail"),
    path("nodes/<slug:name>/token/", fleet_api.NodeTokenApi.as_view(), name="node-token"),
    path("nodes/<slug:name>/revoke/", fleet_api.NodeRevokeApi.as_view(), name="node-revoke"),
    path("nodes/<slug:name>/enable/", fleet_api.NodeEnableApi.as_view(), name="node-enable"),
    path("nodes/<slug:name>/disable/", fleet_api.NodeDisableApi.as_view(), name="node-disable"),
    path(
        "nodes/<slug:name>/telemetry/", fleet_api.NodeTelemetryApi.as_view(), name="node-telemetry"
    ),
    path("audit/", audit_api.AuditEventListApi.as_view(), name="audit"),
    path("datasets/", data_api.DatasetListApi.as_view(), name="datasets"),
    path("datasets/<id:dataset_id>/", data_api.DatasetDetailApi.as_view(), name="dataset-detail"),
    path(
        "datasets/<id:dataset_id>/upload/",
        data_api.DatasetUploadApi.as_view(),
        name="dataset-upload",
    ),
    path(
        "datasets/<id:dataset_id>/import/",
        data_api.DatasetImportApi.as_view(),
        name="dataset-import",
    ),
    path("dataset-versions/", data_api.DatasetVersionListApi.as_view(), name="dataset-versions"),
    path(
        "dataset-versions/<id:version_id>/",
        data_api.DatasetVersionDetailApi.as_view(),
        name="dataset-version-detail",
    ),
    path(
        "dataset-versions/<id:version_id>/clean/",
        data_api.DatasetVersionCleanApi.as_view(),
        name="dataset-version-clean",
    ),
    path("cleaning-rules/", data_api.CleaningRuleListApi.as_view(), name="cleaning-rules"),
    path("tokenizers/", data_api.TokenizerListApi.as_view(), name="tokenizers"),
    path(
        "tokenizers/<id:tokenizer_id>/",
        data_api.TokenizerDetailApi.as_view(),
        name="tokenizer-detail",
    ),
    path(
        "tokenizers/<id:tokenizer_id>/chat-template/",
        data_api.TokenizerChatTemplateApi.as_view(),
        name="tokenizer-chat-template",
    ),
    path("corpora/", data_api.CorpusListApi.as_view(), name="corpora"),
    path("corpora/<id:corpus_id>/", data_api.CorpusDetailApi.as_view(), name="corpus-detail"),
    path("runs/", runs_api.RunListApi.as_view(), name="runs"),
    path("runs/compare/", runs_api.RunCompareApi.as_view(), name="run-compare"),
    path("runs/<id:run_id>/", runs_api.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<id:run_id>/gpus/", runs_api.RunGpusApi.as_view(), name="run-gpus"),
    path("runs/<id:run_id>/approve/", runs_api.RunApproveApi.as_view(), name="run-approve"),
    path("runs/<id:run_id>/reject/", runs_api.RunRejectApi.as_view(), name="run-reject"),
    path(
        "runs/<id:run_id>/tensorboard.zip",
        runs_api.RunTensorboardApi.as_view(),
        name="run-tensorboard",
    ),
    path("presets/", runs_api.PresetListApi.as_view(), name="presets"),
    path("models/", registry_api.ModelListApi.as_view(), name="models"),
    path("models/<id:version_id>/", registry_api.ModelDetailApi.as_view(), name="model-detail"),
    path(
        "models/<id:version_id>/evaluate/",
        registry_api.ModelEvaluateApi.as_view(),
        name="model-evaluate",
    ),
    path(
        "models/<id:version_id>/quantize/",
        registry_api.ModelQuantizeApi.as_view(),
        name="model-quantize",
    ),
    path(
        "models/<id:version_id>/export-onnx/",
        registry_api.ModelExportOnnxApi.as_view(),
        name="model-export-onnx",
    ),
    path(
        "models/<id:version_id>/download/",
        registry_api.ModelDownloadApi.as_view(),
        name="model-download",
    ),
    path(
        "models/<id:version_id>/feedback/",
        registry_api.ModelFeedbackApi.as_view(),
        name="model-feedback",
    ),
    path(
        "models/<id:version_id>/feedback/export/",
        registry_api.ModelFeedbackExportApi.as_view(),
        name="model-feedback-export",
    ),
    path(
        "models/<id:version_id>/feedback/to-dataset/",
        registry_api.ModelFeedbackToDatasetApi.as_view(),
        name="model-feedback-to-dataset",
    ),
    path("models/<id:version_id>/card/", cards_api.ModelCardApi.as_view(), name="model-card"),
    path(
        "models/<id:version_id>/deployment/",
        cards_api.ModelDeploymentApi.as_view(),
        name="model-deployment",
    ),
    path(
        "models/<id:version_id>/promote/",
        governance_api.ModelPromoteApi.as_view(),
        name="model-promote",
    ),
    path("reviews/", governance_api.ReviewListApi.as_view(), name="reviews"),
    path("reviews/<id:review_id>/", governance_api.ReviewDetailApi.as_view(), name="review-detail"),
    path(
        "reviews/<id:review_id>/items/<id:item_id>/",
        governance_api.ReviewItemApi.as_view(),
        name="review-item",
    ),
    path(
        "reviews/<id:review_id>/items/<id:item_id>/run-check/",
        governance_api.ReviewItemCheckApi.as_view(),
        name="review-item-run-check",
    ),
    path(
        "reviews/<id:review_id>/submit/",
        governance_api.ReviewSubmitApi.as_view(),
        name="review-submit",
    ),
    path(
        "reviews/<id:review_id>/approve/",
        governance_api.ReviewApproveApi.as_view(),
        name="review-approve",
    ),
    path(
        "reviews/<id:review_id>/reject/",
        governance_api.ReviewRejectApi.as_view(),
        name="review-reject",
    ),
    path(
        "reviews/<id:review_id>/request-changes/",
        governance_api.ReviewRequestChangesApi.as_view(),
        name="review-request-changes",
    ),
    *alerts_api_urls.urlpatterns,
    *energy_api_urls.urlpatterns,
]

agent_v1 = [
    re_path(r"^register/?$", agent_api.RegisterApi.as_view(), name="register"),
    re_path(r"^heartbeat/?$", agent_api.HeartbeatApi.as_view(), name="heartbeat"),
    re_path(r"^ingest/?$", agent_api.IngestApi.as_view(), name="ingest"),
]

urlpatterns = [
    # Pages without the icon link (the admin panel) still get one, not a 404.
    path("favicon.ico", lambda request: redirect(static("img/forge.svg"), permanent=True)),
    path("", include("console.core.urls")),
    path("", include("console.home.urls")),
    path("", include("console.accounts.urls")),
    path("jobs/", include("console.jobs.urls")),
    path("fleet/", include("console.fleet.urls")),
    path("data/", include("console.data.urls")),
    path("runs/", include("console.runs.urls")),
    path("models/", include("console.registry.urls")),
    path("models/", include("console.cards.urls")),
    path("carbon/", include("console.carbon.urls")),
    path("reviews/", include("console.governance.urls")),
    path("alerts/", include("console.alerts.urls")),
    path("audit/", include("console.audit.urls")),
    path("energy/", include("console.energy.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/agent/v1/", include((agent_v1, "agent"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
]

handler404 = "console.core.views.page_not_found"
handler500 = "console.core.views.server_error"
