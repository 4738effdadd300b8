"""The alerts panel of a run's page (rules, open and recent alerts, webhook) and its
forms. The run page loads the panel with htmx; each view also answers a plain browser
with a full page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from console.alerts import selectors, services
from console.alerts.forms import AlertRuleForm, AlertSettingsForm
from console.alerts.models import AlertSettings
from console.audit.auth import forbidden, require_cap
from console.core.errors import FieldErrors, Forbidden
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.runs.models import Run

RECENT = 10


def _run(request: HtmxHttpRequest, run_id: int) -> Run:
    run = selectors.run_for_alerts(user=request.user, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return run


def _panel_context(request: HtmxHttpRequest, run: Run, **extra) -> dict:
    own = AlertSettings.objects.filter(run=run).values_list("webhook_url", flat=True).first()
    dumps = selectors.stack_dumps(run=run)
    return {
        "run": run,
        "rules": list(selectors.rule_list(run=run)),
        "open_alerts": selectors.with_stacks(
            list(selectors.alert_list(run=run, open_only=True)), dumps
        ),
        "recent_alerts": selectors.with_stacks(
            list(selectors.alert_list(run=run).filter(resolved_at__isnull=False)[:RECENT]), dumps
        ),
        "stack_dumps": dumps,
        "job_active": run.job is not None and not run.job.is_terminal,
        "can_edit": has_cap(request.user, Cap.TRAINING_WRITE),
        "webhook_url": own or "",
        "default_webhook": bool(settings.FORGE_ALERT_WEBHOOK_URL),
        "settings_form": extra.pop("settings_form", None)
        or AlertSettingsForm(initial={"webhook_url": own or ""}),
        **extra,
    }


def _panel(request: HtmxHttpRequest, run: Run, status: int = 200, **extra) -> HttpResponse:
    context = _panel_context(request, run, **extra)
    template = "alerts/panel.html#panel" if request.htmx else "alerts/panel.html"
    return render(request, template, context, status=status)


@require_cap(Cap.VIEW)
def run_panel(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    if request.htmx and request.GET.get("part") == "live":
        return render(request, "alerts/panel.html#live", _panel_context(request, run))
    if request.htmx and request.GET.get("part") == "stacks":
        return render(request, "alerts/panel.html#stacks", _panel_context(request, run))
    return _panel(request, run)


@require_http_methods(["GET", "POST"])
@require_cap(Cap.TRAINING_WRITE)
def rule_edit(request: HtmxHttpRequest, run_id: int, rule_id: int) -> HttpResponse:
    run = _run(request, run_id)
    rule = selectors.rule_get(run=run, rule_id=rule_id)
    if rule is None:
        raise Http404("No such rule.")
    if request.method == "GET":
        form = AlertRuleForm(
            initial={
                name: getattr(rule, name)
                for name in ("low", "high", "factor", "window", "normal_low", "normal_high")
            }
            | {"severity": rule.severity, "enabled": rule.enabled}
        )
    else:
        form = AlertRuleForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["window"] = data["window"] or 0
            try:
                services.rule_update(actor=request.user, rule=rule, data=data)
            except Forbidden as exc:
                return forbidden(request, exc.message)
            except FieldErrors as exc:
                for field, errs in exc.errors.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                if request.htmx:
                    return _panel(request, run)
                messages.success(request, f"Rule {rule.name} saved.")
                return redirect(reverse("runs:detail", args=[run.pk]) + "#alerts")
    context = {"run": run, "rule": rule, "form": form}
    # htmx swaps only 2xx answers: the form with its errors comes back as a 200 there.
    status = 400 if form.errors and not request.htmx else 200
    template = "alerts/rule_form.html#form" if request.htmx else "alerts/rule_form.html"
    return render(request, template, context, status=status)


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def settings_edit(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    form = AlertSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.alert_settings_set(
                actor=request.user, run=run, webhook_url=form.cleaned_data["webhook_url"]
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except FieldErrors as exc:
            for field, errs in exc.errors.items():
                form.add_error(field if field in form.fields else None, errs)
    if form.errors:
        return _panel(request, run, status=200 if request.htmx else 400, settings_form=form)
    if request.htmx:
        return _panel(request, run)
    messages.success(request, "Webhook saved.")
    return redirect(reverse("runs:detail", args=[run.pk]) + "#alerts")


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def alert_acknowledge(request: HtmxHttpRequest, run_id: int, alert_id: int) -> HttpResponse:
    run = _run(request, run_id)
    alert = selectors.alert_get(run=run, alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert.")
    try:
        services.alert_acknowledge(actor=request.user, alert=alert)
    except Forbidden as exc:
        return forbidden(request, exc.message)
    if request.htmx:
        return _panel(request, run)
    return redirect(reverse("runs:detail", args=[run.pk]) + "#alerts")
