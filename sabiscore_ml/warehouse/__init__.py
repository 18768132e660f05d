"""The warehouse: schema, migrations, engine and upserts."""
