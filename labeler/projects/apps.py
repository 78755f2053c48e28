from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labeler.projects"
    label = "projects"

    def ready(self) -> None:
        """Give the audit trail the names of projects it is handed by id."""
        from labeler.audit.services import audit_project_names_use
        from labeler.projects.selectors import project_name_of

        audit_project_names_use(project_name_of)
