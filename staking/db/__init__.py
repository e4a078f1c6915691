"""The SQL projection every reader uses: schema, engine, migrations, the single-writer lock."""
