"""A `disco dock` run on disk: the batch loop over a request's jobs (`run`), the output folder fresh, resumed or
finished (`folder`), `run.json` (`record`), summary.csv / failures.csv / interactions.csv (`tables`), batches
dealt to shards and ranks (`shards`), shard folders merged (`merge`) and a ligand's files (`outputs`)."""
