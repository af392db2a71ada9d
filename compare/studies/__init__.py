"""The studies of ``lrbs run``, one module each with the same face (see ``_base``): the report,
``results.json``, the README's answer, the docs pages and ``lrbs run --only`` loop over them."""
