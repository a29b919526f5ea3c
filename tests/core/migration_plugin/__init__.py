"""The versions folder of the throwaway plugin ``throwaway`` defined in tests/core/test_migrations.py."""
