from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notices", "0003_sending_hand_over")]

    operations = [
        migrations.AddField(
            model_name="noticesetup",
            name="sources",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="noticesetup",
            name="advice",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
