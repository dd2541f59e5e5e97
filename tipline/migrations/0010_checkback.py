from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0009_arrivals"),
    ]

    operations: list[migrations.operations.base.Operation] = []
