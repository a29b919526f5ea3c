"""The service layer: the only place that writes. Every function takes the acting user first."""
