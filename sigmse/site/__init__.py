"""The book: papermill runs of the chapter notebooks and the Jupyter Book around them.

* :mod:`sigmse.site.book`: ``sigmse book``, train the chapters' runs, run the notebooks, build the HTML;
* :mod:`sigmse.site.notebooks`: the papermill runs and the provenance of each executed copy;
* :mod:`sigmse.site.pages`: the table of contents, the staging tree, ``jupyter-book build`` and its checks.
"""
