import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0006_accounts"),
    ]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="GrantRevocation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("revoked_by", models.CharField(max_length=150)),
                ("revoked_on", models.DateField()),
                (
                    "tip",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="revocations",
                        to="tipline.tip",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tip", "user"), name="one_revocation_per_account"
                    )
                ],
            },
        ),
    ]
