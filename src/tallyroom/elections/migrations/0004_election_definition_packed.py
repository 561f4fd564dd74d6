"""The stored definition becomes its canonical JSON, zlib-compressed (`definition.definition_pack`):
the same digest as before, a tenth of the size, and no ~100 MB JSON value for the server to parse."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from tallyroom.elections.definition import definition_pack, definition_unpack


def pack(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Election = apps.get_model("elections", "Election")
    for election in Election.objects.all().iterator(chunk_size=1):
        election.definition_packed = definition_pack(election.definition).data
        election.save(update_fields=["definition_packed"])


def unpack(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Election = apps.get_model("elections", "Election")
    for election in Election.objects.all().iterator(chunk_size=1):
        election.definition = definition_unpack(election.definition_packed)
        election.save(update_fields=["definition"])


class Migration(migrations.Migration):
    dependencies = [
        ("elections", "0003_election_base_manager"),
    ]

    operations = [
        migrations.AddField(
            model_name="election",
            name="definition_packed",
            field=models.BinaryField(default=b"", verbose_name="definition as loaded (compressed)"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="election",
            name="definition",
            field=models.JSONField(null=True, verbose_name="definition as loaded"),
        ),
        migrations.RunPython(pack, unpack),
        migrations.RemoveField(model_name="election", name="definition"),
    ]
