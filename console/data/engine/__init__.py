"""Forge's data engine: pure Python (numpy, pyarrow), no Django, no console imports.

The console's data app wraps it in models, jobs and pages. The pieces:

* ``storage``: ``Storage`` protocol and ``LocalStorage(root)``; ``atomic_dir(key)``
  makes a version appear whole or not at all.
* ``readers``: ``detect_format``, ``iter_documents`` (JSONL, Parquet, .txt, .zip,
  .tar.gz, server directories; streamed, validated, archive-safe), ``ReadLimits``,
  ``InputError`` (user-facing), ``resolve_server_path`` (S8).
* ``versions``: the normalized version on disk (``documents.jsonl`` +
  ``manifest.json``), ``write_version``, ``create_version``, ``read_version``.
* ``clean``: ``RULES``, ``validate_pipeline`` (``PipelineError`` with field errors
  per step), ``run_pipeline`` (a new version and a report), ``rule_catalog``.
* ``workers``: the worker processes of ``run_pipeline(workers=n)``.
* ``rules/``: one module per rule; ``report``: the report and chart series;
  ``langid``: a language-mix estimate.

Upload, then clean::

    fmt = detect_format(upload_name)
    docs = iter_documents(tmp_file, fmt=fmt, text_field="text", limits=ReadLimits(),
                          display_name=upload_name)
    stats = create_version(storage, "datasets/12/v1", docs, extra={"source": ...})

    steps = validate_pipeline(form_steps)          # PipelineError -> field errors
    with storage.atomic_dir("datasets/12/v2") as out:
        report = run_pipeline(storage.path("datasets/12/v1"), out, steps, workers=4,
                              progress=on_progress, should_stop=stop_requested)

``workers > 1`` starts worker processes (``workers``): from any process, a Celery
prefork child or a test included; a worker that dies or hangs fails the run
(``WorkerFailed``) instead of hanging it.
"""
