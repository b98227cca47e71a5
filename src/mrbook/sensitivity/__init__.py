"""Sensitivity layer, checks beside the estimators: MR-PRESSO, Steiger directionality, strength."""
