"""Receivables: invoices as known on each date (versions) and their functional amounts."""
