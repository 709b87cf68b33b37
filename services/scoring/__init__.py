"""Scoring: versioned ICP profiles per account and explainable 0-100 fit scores (``leadmesh.scoring.v1``)."""
