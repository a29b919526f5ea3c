"""A throwaway plugin that lives only in the tests (filled in below as the contract grows)."""
name = "sample"
version = "0.0.1"
