"""track2vec-tune: the tuning service (Ray Tune + Optuna + ASHA) over the track2vec library."""

PROG = "track2vec-tune"
