"""Lookup keys move from three columns of LeakRecord to their own table (owabi.records.lookup).

This migration needs no key and computes nothing: the new table starts empty. Existing records are
found again once an operator runs `owabi keys reindex` (docs/operations.md, "Upgrading").
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0009_blind_indexes_without_empty"),
    ]

    operations = [
        migrations.CreateModel(
            name="LookupKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "key", "record", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("key", models.BinaryField(max_length=16)),
                (
                    "record",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="records.leakrecord",
                    ),
                ),
            ],
        ),
        migrations.RemoveIndex(model_name="leakrecord", name="records_bx_name_phone_set"),
        migrations.RemoveIndex(model_name="leakrecord", name="records_bx_name_card_set"),
        migrations.RemoveIndex(model_name="leakrecord", name="records_bx_email_set"),
        migrations.RemoveField(model_name="leakrecord", name="bx_email"),
        migrations.RemoveField(model_name="leakrecord", name="bx_name_card"),
        migrations.RemoveField(model_name="leakrecord", name="bx_name_phone"),
    ]
