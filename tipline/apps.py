from django.apps import AppConfig


class TiplineConfig(AppConfig):
    name = "tipline"
    verbose_name = "Tip line"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tipline import checks  # noqa: F401 - registers the system checks
