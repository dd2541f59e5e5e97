from django.apps import AppConfig


class TiplineConfig(AppConfig):
    name = "tipline"
    verbose_name = "Tip line"
    default_auto_field = "django.db.models.BigAutoField"
