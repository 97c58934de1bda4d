"""Probabilities about poses: Platt calibration of the confidence network's logits, the pose confidence of
physics-guided poses (a logistic regression on energy, agreement and remaining score), and its fit."""
