from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0010_checkback"),
    ]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="attachment",
            name="safe_copy",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "No safe copy"),
                    ("pending", "Safe copy being made"),
                    ("done", "Safe copy ready"),
                    ("failed", "Safe copy could not be made"),
                ],
                default="",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="attachment",
            name="safe_pdf_blob",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="attachment",
            name="safe_pages_blob",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="attachment",
            name="safe_text_sealed",
            field=models.BinaryField(blank=True, null=True),
        ),
    ]
