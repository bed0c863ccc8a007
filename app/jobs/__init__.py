"""Training jobs: the request, the job table and its repository, submission, `JobRun`, the
executors (local, celery, inline), heartbeats, the reaper and the router."""
