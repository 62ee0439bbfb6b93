import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("notices", "0001_initial"),
        ("records", "0007_match_batches"),
    ]

    operations = [
        migrations.CreateModel(
            name="Engagement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("signed_in_at", models.DateTimeField(blank=True, null=True)),
                ("redress_chosen_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("reminders_off_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="notice",
            name="notices_notice_one_live_per_recipient_channel",
        ),
        migrations.AddField(
            model_name="notice",
            name="reminder_of",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reminders",
                to="notices.notice",
            ),
        ),
        migrations.AddField(
            model_name="notice",
            name="rule",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="noticesetup",
            name="reminders",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="notice",
            name="code",
            field=models.CharField(db_index=True, max_length=20),
        ),
        migrations.AddConstraint(
            model_name="notice",
            constraint=models.UniqueConstraint(
                condition=models.Q(("reminder_of__isnull", True)),
                fields=("code",),
                name="notices_notice_code_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="notice",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    models.Q(("status", "cancelled"), _negated=True), ("reminder_of__isnull", True)
                ),
                fields=("recipient", "channel"),
                name="notices_notice_one_live_per_recipient_channel",
            ),
        ),
        migrations.AddConstraint(
            model_name="notice",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    models.Q(("status", "cancelled"), _negated=True), ("reminder_of__isnull", False)
                ),
                fields=("recipient", "rule"),
                name="notices_notice_one_reminder_per_recipient_rule",
            ),
        ),
        migrations.AddField(
            model_name="engagement",
            name="recipient",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="engagement",
                to="records.recipient",
            ),
        ),
    ]
