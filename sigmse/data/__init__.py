"""The datasets: their table and checksums (:mod:`~sigmse.data.table`), loading and the decode cache
(:mod:`~sigmse.data.datasets`), the official files (:mod:`~sigmse.data.files`), ``sigmse data check``
(:mod:`~sigmse.data.report`), validation splits (:mod:`~sigmse.data.splits`) and noise (:mod:`~sigmse.data.noise`).
"""
