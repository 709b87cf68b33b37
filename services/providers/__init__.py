"""The providers service: waterfall lookup of people and companies across data providers."""
