from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0008_pipeline_key_rotation"),
    ]

    operations: list[migrations.operations.base.Operation] = []
