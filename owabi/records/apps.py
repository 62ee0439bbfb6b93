from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "owabi.records"
    label = "records"

    def ready(self) -> None:
        from owabi.core.keys import register_reindexer
        from owabi.records.lookup import reindex

        register_reindexer("lookup keys", reindex)
