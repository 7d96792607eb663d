"""OpenAI's Files and Fine-tuning APIs served by webtune (``webtune serve --fine-tuning``).

`files` stores uploads, `jobs` keeps the job queue on disk and runs jobs with webtune's own
trainer, `routes` mounts the endpoints on the chat server's FastAPI app.
"""
