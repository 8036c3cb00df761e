"""sigmse: sigmoid-MSE with Output Reset versus softmax cross-entropy.

A small library behind a reproducible Jupyter Book that tests the claims of
Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax
Cross-Entropy in Neural Network Classification* (arXiv 2411.11213).
"""

__version__ = "0.1.0"
