"""The datasets: their table and files, loading and checks, validation splits and noise.

* :mod:`sigmse.data.table`: the table of datasets (:data:`~sigmse.data.table.DATASETS`) and their files' MD5s;
* :mod:`sigmse.data.datasets`: loading to tensors, the decode cache, the integrity checks and the error that
  says how to fill the data root;
* :mod:`sigmse.data.files`: finding and decoding the official files (IDX, CIFAR-10 binary batches);
* :mod:`sigmse.data.report`: ``sigmse data check``, what is in a data root;
* :mod:`sigmse.data.splits`: the validation split and training subsets;
* :mod:`sigmse.data.noise`: label noise (symmetric, asymmetric) and input noise.
"""
