"""The publishing tests' fixtures: an election day's (the polling tests' `day`) for rows that a day's
reports write."""

from tests.polling.conftest import day  # noqa: F401 - a fixture, registered for these tests
