from django.contrib import admin

from labeler.projects.models import Label, Membership, Project


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "multi_label", "overlap", "created_at"]
    search_fields = ["name"]
    inlines = [LabelInline, MembershipInline]
