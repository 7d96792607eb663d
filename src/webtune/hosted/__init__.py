"""Hosted fine-tuning through the OpenAI API: client, job state, monitoring, results.

* ``client``   the trainer's `webtune.openai_client.OpenAIClient`, made from its config
* ``state``    what is remembered in the run's work directory (uploaded files, the job id)
* ``jobs``     validate -> strip -> upload (once) -> create (once) -> reattach
* ``monitor``  status, events and a rich progress display until the job ends
* ``results``  the result CSV, the loss plot, checkpoints, ``train_result.json``

Only ``webtune.train.backends.openai`` and ``webtune.cli.train_hosted`` use this package; the
``openai`` SDK is imported when a client is made, not when a pipeline file is loaded.
"""
