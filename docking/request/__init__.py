"""What the user asked for, before anything heavy is imported: the options of `disco dock` and the rules they
follow together (`dock_request`), the two presets (`presets`), `--shard I/N` (`shard`), the ligands of an input
as a stream (`ligand_stream`) and as the run's jobs (`jobs`). Imports no engine: a usage error is reported at once."""
