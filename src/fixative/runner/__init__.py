"""Running workflows: the record every run leaves in the live database (status, progress,
timings, errors). The TaskRunner port and its inline and Celery adapters build on it."""
