"""Load tests: the app served by gunicorn, under a bounded concurrent mix of every error kind."""
