from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tipline', '0004_tip_arrived_in_flood'),
    ]

    operations = [
        migrations.CreateModel(
            name='PendingUpload',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(max_length=64, unique=True)),
                ('tip_key_id', models.UUIDField()),
                ('file_key_id', models.UUIDField(unique=True)),
                ('tip_key_sealed', models.BinaryField()),
                ('name_sealed', models.BinaryField()),
                ('form_binding', models.CharField(db_index=True, max_length=64)),
                ('length', models.BigIntegerField()),
                ('offset', models.BigIntegerField(default=0)),
                ('blob', models.CharField(blank=True, max_length=255)),
                ('created_on', models.DateField()),
            ],
        ),
    ]
