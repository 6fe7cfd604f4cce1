"""Service: the `[schedule]` in; APScheduler jobs that run the pipeline's fetches and sends on
their cron, in the foreground, until stopped."""
