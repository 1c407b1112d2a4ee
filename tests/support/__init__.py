"""Helpers the tests share: counter pages and fd/thread counts, the two view engines, copying and rebuilding the source tree."""
