from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from console.accounts.models import ApiToken
from console.audit.services import audit_record
from console.core.roles import roles_of

User = get_user_model()


def _access_snapshot(user) -> dict:
    return {
        "roles": roles_of(user),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
    }


class ForgeUserAdmin(UserAdmin):
    """Django's user admin, with every change to who-can-do-what written to the audit log."""

    def save_model(self, request, obj, form, change):
        if change:
            request._forge_before = _access_snapshot(User.objects.get(pk=obj.pk))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        user._forge_caps = None
        before = getattr(request, "_forge_before", None)
        after = _access_snapshot(User.objects.get(pk=user.pk))
        if before != after:
            audit_record(
                action="user.update" if change else "user.create",
                actor=request.user,
                obj=user,
                before=before,
                after=after,
            )

    def delete_model(self, request, obj):
        audit_record(
            action="user.delete", actor=request.user, obj=obj, before=_access_snapshot(obj)
        )
        super().delete_model(request, obj)


admin.site.unregister(User)
admin.site.register(User, ForgeUserAdmin)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        from console.accounts.services import api_token_revoke

        for token in queryset:
            api_token_revoke(token=token, actor=request.user)
