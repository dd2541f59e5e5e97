import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0009_arrivals"),
    ]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="attachment",
            name="sent_later",
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name="Conversation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("lookup", models.CharField(max_length=64, unique=True)),
                ("salt", models.BinaryField()),
                ("public_key", models.BinaryField()),
                ("key_for_source", models.BinaryField()),
                ("key_for_readers", models.BinaryField()),
                ("closed", models.BooleanField(default=False)),
                ("unread", models.BooleanField(default=False)),
                (
                    "tip",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversation",
                        to="tipline.tip",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Message",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                (
                    "author",
                    models.CharField(
                        choices=[("source", "Source"), ("editor", "Editor")], max_length=8
                    ),
                ),
                ("written_on", models.DateField()),
                ("body_sealed", models.BinaryField()),
                ("file_count", models.PositiveSmallIntegerField(default=0)),
                (
                    "tip",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="tipline.tip",
                    ),
                ),
            ],
            options={"ordering": ["id"]},
        ),
    ]
