from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0007_revocations"),
    ]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="recipientkey",
            name="created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
