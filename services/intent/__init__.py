"""The intent service: buying-intent signals per company (hiring, technology, web activity)."""
