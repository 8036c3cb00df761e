"""The book builder (``sigmse book``): :mod:`~sigmse.site.book` trains what the chapters read and the store lacks,
:mod:`~sigmse.site.notebooks` runs them with papermill, :mod:`~sigmse.site.pages` builds the Jupyter Book."""
