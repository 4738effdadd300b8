import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from console.audit.models import AuditEvent
from console.audit.services import audit_record
from console.jobs import services
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


def test_state_changes_are_audited_with_before_and_after(personas):
    job = JobFactory(project=personas.project, requested_by=personas.ml_engineer)
    services.job_cancel(actor=personas.ml_engineer, job_id=job.pk)
    event = AuditEvent.objects.get(action="job.cancelled")
    assert event.actor == personas.ml_engineer and event.actor_name == "milo_ml"
    assert event.before == {"state": "queued"}
    assert event.after["state"] == "cancelled"
    assert event.project_id == personas.project.pk and event.object_type == "jobs.job"


def test_audit_rows_refuse_update_and_delete_on_postgres(postgres_only):
    event = audit_record(action="test.event", object_type="x", object_id="1")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    event.refresh_from_db()
    assert event.action == "test.event"


def test_deleting_a_user_leaves_their_audit_trail(personas):
    audit_record(action="test.event", actor=personas.viewer)
    personas.viewer.delete()
    event = AuditEvent.objects.get(action="test.event")
    assert event.actor_name == "vera_viewer"


def test_audit_page_filters_and_permissions(personas):
    JobFactory(project=personas.project)
    audit_record(action="job.submit", actor=personas.ml_engineer)
    audit_record(action="token.create", actor=personas.viewer)
    client = Client()
    client.force_login(personas.reviewer)
    assert client.get("/audit/?action=job.").status_code == 200
    table = client.get("/audit/?action=job.", HTTP_HX_REQUEST="true")
    assert b"job.submit" in table.content and b"token.create" not in table.content
    partial = client.get("/audit/?actor=vera_viewer", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"token.create" in partial.content
    assert client.get("/audit/?since=garbage").status_code == 400
    client.force_login(personas.ml_engineer)
    assert client.get("/audit/").status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor=personas.ml_engineer).exists()


def test_admin_panel_cannot_edit_audit(personas):
    personas.admin.is_staff = True
    personas.admin.is_superuser = True
    personas.admin.save()
    event = audit_record(action="test.event")
    client = Client()
    client.force_login(personas.admin)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    response = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "forged"})
    assert response.status_code == 403
    assert (
        client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
