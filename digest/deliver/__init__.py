"""Deliver: stored renders, subscribers and SMTP settings in; messages on the wire, each
server's answer recorded in the ledger (sent, deferred, failed). Knows SMTP; knows no feeds."""
