from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("records", "0008_drop_indexes_covered_by_unique"),
    ]

    operations = [
        migrations.AlterField(
            model_name="leakrecord",
            name="bx_email",
            field=models.BinaryField(default=b"", max_length=16),
        ),
        migrations.AlterField(
            model_name="leakrecord",
            name="bx_name_card",
            field=models.BinaryField(default=b"", max_length=16),
        ),
        migrations.AlterField(
            model_name="leakrecord",
            name="bx_name_phone",
            field=models.BinaryField(default=b"", max_length=16),
        ),
        migrations.AddIndex(
            model_name="leakrecord",
            index=models.Index(
                condition=models.Q(("bx_name_phone", b""), _negated=True),
                fields=["bx_name_phone"],
                name="records_bx_name_phone_set",
            ),
        ),
        migrations.AddIndex(
            model_name="leakrecord",
            index=models.Index(
                condition=models.Q(("bx_name_card", b""), _negated=True),
                fields=["bx_name_card"],
                name="records_bx_name_card_set",
            ),
        ),
        migrations.AddIndex(
            model_name="leakrecord",
            index=models.Index(
                condition=models.Q(("bx_email", b""), _negated=True),
                fields=["bx_email"],
                name="records_bx_email_set",
            ),
        ),
    ]
